# bench/sweep.sh — scenario w of bench/run.sh (sourced by it; not run on its own): the
# sweeper at scale (issue 17, item 5), on SQLite + the local blob store.
#
# Each of BENCH_SWEEP_ROUNDS rounds (default 3), on one upgate started with --dev-clock and
# its periodic sweeper out of the way (--sweep-interval-ms of a day), alternates:
#   idle   4 KiB uploads over SWEEP_CONNS connections for SWEEP_LOAD_SECONDS: p50/p99
#   sweep  BENCH_SWEEP_OBJECTS uploads (half 1 byte, half 4 KiB) with ?ttl=1, the clock moved
#          2 s on (POST /v1/admin/clock), then POST /v1/admin/sweep (its answer counts what it
#          purged; curl times it) with the same 4 KiB load beside it: objects/s, and p50/p99
#          of the uploads during the sweep
# The load of the sweep half starts with the sweep; a sweep shorter than the load leaves
# the rest of it without one (the sweep's seconds are printed beside the load's).
# Each round also times one sweep alone (no load), first. BENCH_SWEEP_PERF=FILE records a perf
# profile of the first round's sweep alone into FILE (perf report -i FILE); perf's options are
# BENCH_SWEEP_PERF_ARGS (default -g).
# Goals (issue 17): >= 20,000 objects/s; p99 upload latency during a sweep <= 2x without one.

SWEEP_CONNS=8
SWEEP_LOAD_SECONDS=2
declare -a SWEEP_RATE=() SWEEP_SECS=() SWEEP_BUSY_RATE=() SWEEP_BUSY_SECS=() SWEEP_P50_IDLE=() SWEEP_P99_IDLE=() SWEEP_P50_BUSY=() SWEEP_P99_BUSY=()

# The upload load of one half: prints "p50 p99" (ms) or "failed".
sweep_load() {
  local name=$1 base="http://127.0.0.1:$UPGATE_PORT" log="$TMP/load-$1.log"
  "$LOAD" --name "$name" --url "$base/v1/files?name=$name-{id}" --method POST \
    --header "Authorization: Bearer $UPGATE_KEY" --unique-path --size 4096 \
    --concurrency "$SWEEP_CONNS" --duration "$SWEEP_LOAD_SECONDS" >"$log" 2>&1 || true
  local r; r=$(grep '^RESULT ' "$log" | tail -n 1)
  if [[ -z "$r" || "$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$r")" != 0 ]]; then
    sed 's/^/   /' "$log" >&2; echo failed; return 0
  fi
  echo "$(sed -n 's/.* p50_ms=\([^ ]*\).*/\1/p' <<<"$r") $(sed -n 's/.* p99_ms=\([^ ]*\).*/\1/p' <<<"$r")"
}

# `count` objects expiring in 1 s, half of 1 byte and half of 4 KiB; then the clock moves past it.
sweep_seed() {
  local round=$1 count=$2 base="http://127.0.0.1:$UPGATE_PORT" size per=$(( $2 / 32 ))
  for size in 1 4096; do
    "$LOAD" --name "w-seed-$size" --url "$base/v1/files?name=w$round-$size-{id}&ttl=1" --method POST \
      --header "Authorization: Bearer $UPGATE_KEY" --unique-path --size "$size" \
      --concurrency 16 --requests-per-conn "$per" >"$TMP/load-w-seed.log" 2>&1 ||
      { sed 's/^/   /' "$TMP/load-w-seed.log"; return 1; }
  done
  curl -fsS -o /dev/null -H "Authorization: Bearer $UPGATE_KEY" -d '{"advance_ms":2000}' "$base/v1/admin/clock"
}

# One sweep of `count` seeded objects, with the upload load beside it when `busy` is 1:
# sets SWEPT_RATE and SWEPT_SECS (and SWEPT_P50/SWEPT_P99 when busy).
sweep_once() {
  local round=$1 count=$2 busy=$3 base="http://127.0.0.1:$UPGATE_PORT" perf_pid="" curl_pid
  SWEPT_RATE=failed SWEPT_SECS="" SWEPT_P50="" SWEPT_P99=""
  sweep_seed "$round-$busy" "$count" || { echo "-- w: seeding failed"; ANY_ERRORS=1; return 1; }
  settle
  if [[ -n "${BENCH_SWEEP_PERF:-}" && $round == 1 && $busy == 0 ]]; then
    perf record ${BENCH_SWEEP_PERF_ARGS:--g} -o "$BENCH_SWEEP_PERF" -p "$UPGATE_PID" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  curl -sS -o "$TMP/w-sweep.json" -w '%{time_total}' -H "Authorization: Bearer $UPGATE_KEY" \
    -d '{}' "$base/v1/admin/sweep" >"$TMP/w-sweep.time" &
  curl_pid=$!
  [[ $busy == 1 ]] && read -r SWEPT_P50 SWEPT_P99 <<<"$(sweep_load "w-busy-$round")"
  wait "$curl_pid" || true
  [[ -n "$perf_pid" ]] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; }
  local purged
  purged=$(sed -n 's/.*"purged_objects":\([0-9]*\).*/\1/p' "$TMP/w-sweep.json")
  SWEPT_SECS=$(cat "$TMP/w-sweep.time")
  SWEPT_RATE=$(awk -v n="${purged:-0}" -v s="$SWEPT_SECS" 'BEGIN { if (s > 0 && n > 0) printf "%.0f", n / s; else print "failed" }')
  [[ "${purged:-0}" == "$count" ]] || { echo "-- w: swept ${purged:-nothing} of $count: $(cat "$TMP/w-sweep.json")"; ANY_ERRORS=1; }
}

run_sweep() {
  local rounds=${BENCH_SWEEP_ROUNDS:-3} count=${BENCH_SWEEP_OBJECTS:-40000} r
  [[ $QUICK == 1 ]] && count=${BENCH_SWEEP_OBJECTS:-8000}
  count=$(( count / 32 * 32 ))
  SWEEP_COUNT=$count
  if [[ $UPGATE_OK != 1 ]] ||
    ! BENCH_UPGATE_ARGS="${BENCH_UPGATE_ARGS:-} --dev-clock --sweep-interval-ms 86400000" start_upgate w; then
    echo "-- w / upgate: not run: $UPGATE_WHY"; ANY_ERRORS=1; return 0
  fi
  for r in $(seq "$rounds"); do
    settle
    read -r SWEEP_P50_IDLE[r] SWEEP_P99_IDLE[r] <<<"$(sweep_load "w-idle-$r")"
    echo "-- w round $r: uploads alone p50/p99 ${SWEEP_P50_IDLE[r]} / ${SWEEP_P99_IDLE[r]:-} ms"
    sweep_once "$r" "$count" 0 || break
    SWEEP_RATE[r]=$SWEPT_RATE SWEEP_SECS[r]=$SWEPT_SECS
    echo "-- w round $r: sweep alone: $count in $SWEPT_SECS s ($SWEPT_RATE objects/s)"
    sweep_once "$r" "$count" 1 || break
    SWEEP_BUSY_RATE[r]=$SWEPT_RATE SWEEP_BUSY_SECS[r]=$SWEPT_SECS
    SWEEP_P50_BUSY[r]=$SWEPT_P50 SWEEP_P99_BUSY[r]=$SWEPT_P99
    echo "-- w round $r: sweep beside uploads: $count in $SWEPT_SECS s ($SWEPT_RATE objects/s);" \
      "uploads p50/p99 $SWEPT_P50 / $SWEPT_P99 ms"
  done
  stop_upgate
}

# The median of its arguments (numbers), or n/a.
sweep_median() {
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

print_sweep() {
  local rate busy p99i p99b
  rate=$(sweep_median "${SWEEP_RATE[@]}") busy=$(sweep_median "${SWEEP_BUSY_RATE[@]}")
  p99i=$(sweep_median "${SWEEP_P99_IDLE[@]}") p99b=$(sweep_median "${SWEEP_P99_BUSY[@]}")
  echo
  echo "w: sweeper at scale (SQLite + local; ${SWEEP_COUNT:-?} expired objects, 1 B and 4 KiB;" \
    "4 KiB uploads x$SWEEP_CONNS for ${SWEEP_LOAD_SECONDS} s), medians of ${#SWEEP_RATE[@]} rounds"
  echo "  rounds, objects/s, sweep alone:     ${SWEEP_RATE[*]} (seconds: ${SWEEP_SECS[*]})"
  echo "  rounds, objects/s, beside uploads:  ${SWEEP_BUSY_RATE[*]} (seconds: ${SWEEP_BUSY_SECS[*]})"
  echo "  rounds, upload p50/p99 ms alone:    $(paste -d/ <(printf '%s\n' "${SWEEP_P50_IDLE[@]}") <(printf '%s\n' "${SWEEP_P99_IDLE[@]}") | tr '\n' ' ')"
  echo "  rounds, upload p50/p99 ms in sweep: $(paste -d/ <(printf '%s\n' "${SWEEP_P50_BUSY[@]}") <(printf '%s\n' "${SWEEP_P99_BUSY[@]}") | tr '\n' ' ')"
  printf '  objects/s %s alone, %s beside uploads (goal >= 20000) | upload p99 %s ms alone, %s ms in a sweep: %s (goal <= 2)\n' \
    "$rate" "$busy" "$p99i" "$p99b" \
    "$(awk -v a="$p99b" -v b="$p99i" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }')"
}
