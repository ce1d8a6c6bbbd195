# bench/s3.sh — scenario s of bench/run.sh (sourced by it; not run on its own): upgate with
# its blobs on S3 (--blobs s3://...) beside upgate on local disk, and the same bytes PUT and
# GET straight to the S3 engine as the baseline, in one run (BENCH_BLOBS="local s3").
#
# The engine is a private one-node Ceph RGW made by ../shared/services/s3-up.sh on free ports
# of 127.0.0.1 with S3_STORE=bluestore (objects in a sparse file under $BASE_TMP, not in RAM),
# stopped and deleted with everything in it when the bench exits: RGW frees the space of
# deleted objects only through its garbage collector, hours later, so a throwaway cluster is
# the cleanup. The shared RGW of the tests (port 7480) is never touched.
#
# One client for every column: curl (Debian's 7.88, `--aws-sigv4` for RGW, a Bearer key for
# upgate), so the client's own cost is the same on both sides. Both sign the same way
# (x-amz-content-sha256: UNSIGNED-PAYLOAD, as upgate's S3 client does). Small requests go
# through one curl with `--parallel` (64 transfers at once, connections reused).
#
# The 1 GiB transfers run in BENCH_S3_ROUNDS alternating rounds (default 3: RGW s1, upgate s1,
# RGW s2, upgate s2, then again, each round a new object), since RGW's own rate swings 1.5x
# between minutes on a shared VM; the table shows medians, the log every round. s3/s4 run once.
# BENCH_S3_PIN=1 pins radosgw + the OSD to CPU 0 and upgate + curl to CPU 1 (taskset), a second
# view that separates the protocol's cost from the CPU competition between them.

S3_BENCH_DIR=""
S3_BENCH_PORT=""
S3_BUCKET=upgate-bench
declare -A S3_PEAK S3_CPU RGW_US  # "<scenario>,<column>": peak RSS (MiB), CPU per request (µs)

# Starts the private RGW (sets S3_ENDPOINT, S3_ACCESS_KEY, ...) and makes the bucket.
start_rgw() {
  S3_BENCH_PORT=$(free_port)
  local mon_port; mon_port=$(free_port)
  S3_BENCH_DIR="$BASE_TMP/upgate-bench-s3-$$"
  local env
  env=$(S3_PORT=$S3_BENCH_PORT S3_MON_PORT=$mon_port S3_DIR=$S3_BENCH_DIR S3_STORE=bluestore \
    S3_CAPACITY_GB=${BENCH_S3_CAPACITY_GB:-$((2 * ${BENCH_S3_ROUNDS:-3} + 6))} bash "$SERVICES/s3-up.sh") || return 1
  eval "$env"
  export UPGATE_S3_ACCESS_KEY=$S3_ACCESS_KEY UPGATE_S3_SECRET_KEY=$S3_SECRET_KEY
  [[ "$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$S3_BUCKET")" == 200 ]]
}
stop_rgw() {
  [[ -n "$S3_BENCH_DIR" ]] || return 0
  S3_PORT=$S3_BENCH_PORT S3_DIR=$S3_BENCH_DIR bash "$SERVICES/s3-down.sh" 2>/dev/null || true
  rm -rf "$S3_BENCH_DIR" "$S3_BENCH_DIR.lock"  # and s3-up.sh's lock file beside it
  S3_BENCH_DIR=""
}
# curl's arguments for a signed request to the private RGW (as upgate signs: UNSIGNED-PAYLOAD).
s3_sig() {
  S3_SIG=(--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY"
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
}
s3_curl() { s3_sig; curl -sS "${S3_SIG[@]}" "$@"; }

# CPU ticks of the engine's daemons (radosgw and the OSD) so far.
rgw_ticks() {
  local n t=0
  for n in client.rgw osd.0; do t=$((t + $(cpu_ticks "$(cat "$S3_BENCH_DIR/run/$n.pid")"))); done
  echo "$t"
}
ticks_to_us() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "?" }'; }

# s_run key server count curl-args...: one curl (parallel when count > 1); keeps the rate,
# latencies, errors and the CPU per request of upgate (upgate-* columns) and of RGW.
s_run() {
  local key=$1 server=$2 count=$3; shift 3
  local out="$TMP/curl-$key-$server.txt" t0 t1 u0=0 r0 stats ok bad mibps rps p50 p99 wall
  echo "-- $key / $server"
  [[ $server == upgate-* ]] && u0=$(cpu_ticks "$UPGATE_PID")
  r0=$(rgw_ticks); t0=$(date +%s.%N)
  client -sS --no-progress-meter -o /dev/null -w '%{http_code} %{time_total} %{size_upload} %{size_download}\n' \
    "$@" >"$out" 2>"$out.err" || true
  t1=$(date +%s.%N)
  [[ $server == upgate-* ]] && S3_CPU[$key,$server]=$(ticks_to_us $(($(cpu_ticks "$UPGATE_PID") - u0)) "$count")
  RGW_US[$key,$server]=$(ticks_to_us $(($(rgw_ticks) - r0)) "$count")
  head -n 3 "$out.err" | sed 's/^/   /'
  # ok = 2xx answers; MiB/s and req/s over the wall time of the whole curl run.
  stats=$(sort -k2 -g "$out" | awk -v t0="$t0" -v t1="$t1" '
    $1 ~ /^2/ { ok++; b += $3 + $4; lat[ok] = $2 } $1 !~ /^2/ { bad++ }
    END { w = t1 - t0; p50 = lat[int((ok + 1) / 2)]; p99 = lat[int(ok * 0.99 + 0.999)];
          printf "%d %d %.2f %.2f %.3f %.3f %.3f", ok, bad, (w > 0 ? b / 1048576 / w : 0),
                 (w > 0 ? ok / w : 0), p50 * 1000, p99 * 1000, w }')
  read -r ok bad mibps rps p50 p99 wall <<<"$stats"
  echo "   $ok ok, $bad errors in $wall s: $mibps MiB/s, $rps req/s, p50 $p50 ms, p99 $p99 ms"
  MIBPS[$key,$server]=$mibps RPS[$key,$server]=$rps P50[$key,$server]=$p50 P99[$key,$server]=$p99
  if [[ $ok != "$count" ]]; then
    ERRS[$key,$server]="$((count - ok)) errors"; ANY_ERRORS=1
    grep -v '^2' "$out" | head -n 3 | sed 's/^/   answer: /'
  fi
}

# Peak RSS since the last reset, and the reset (Linux: 5 > clear_refs resets VmHWM).
peak_rss_mib() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }

# With BENCH_S3_PIN=1: CPU 0 for the engine, CPU 1 for upgate and the client.
S3_PIN=${BENCH_S3_PIN:-0}
pin() {  # cpu pid: every thread of pid (threads it starts later inherit it)
  [[ $S3_PIN == 1 ]] && taskset -a -p -c "$1" "$2" >/dev/null
  return 0
}
client() { if [[ $S3_PIN == 1 ]]; then taskset -c 1 curl "$@"; else curl "$@"; fi; }

# Starts upgate on `blobs` (local | s3): UPGATE_BASE, UPGATE_AUTH; 1 when it did not start.
s_start() {
  local blobs=$1 url=""
  # A prefix of the bench bucket; local: the default, blobs under --data.
  [[ $blobs == s3 ]] &&
    url="s3://$S3_BUCKET/upgate?endpoint=$S3_ENDPOINT&region=$S3_REGION&path_style=true${BENCH_S3_OPTIONS:-}"
  if ! start_upgate "s-$blobs" sqlite "$url"; then
    UPGATE_OK=0; echo "-- s / upgate-$blobs: not run: $UPGATE_WHY"
    local k; for k in s1 s2 s3 s4; do ERRS[$k,upgate-$blobs]="not run"; done
    return 1
  fi
  pin 1 "$UPGATE_PID"
  UPGATE_BASE="http://127.0.0.1:$UPGATE_PORT" UPGATE_AUTH="Authorization: Bearer $UPGATE_KEY"
}

# The 1 GiB upload (s1) and download (s2) of round `r` through the running upgate.
s_big_upgate() {
  local blobs=$1 r=$2 col="upgate-$1" id
  sync; reset_peak_rss "$UPGATE_PID"
  s_run s1 "$col" 1 -H "$UPGATE_AUTH" -X POST -T "$S_BIG" "$UPGATE_BASE/v1/files?name=bench-s1-$r" \
    -D "$TMP/s1-$blobs.head"
  keep_round s1 "$col" "$r" "$(peak_rss_mib "$UPGATE_PID")"
  id=$(sed -n 's/^Location: \/v1\/files\/\([^[:space:]]*\).*/\1/ip' "$TMP/s1-$blobs.head" || true)
  S_BIG_ID[$blobs,$r]=$id
}
s_big_download_upgate() {
  local blobs=$1 r=$2 col="upgate-$1"
  reset_peak_rss "$UPGATE_PID"
  s_run s2 "$col" 1 -H "$UPGATE_AUTH" "$UPGATE_BASE/v1/files/${S_BIG_ID[$blobs,$r]:-none}/content"
  keep_round s2 "$col" "$r" "$(peak_rss_mib "$UPGATE_PID")"
}

# The 4 KiB uploads (s3) and downloads (s4) through the running upgate.
s_small_upgate() {
  local col="upgate-$1" id
  s_run s3 "$col" "$S_COUNT" -Z --parallel-max "$SMALL_CONNS" -H "$UPGATE_AUTH" -X POST -T "$S_SMALL" \
    "$UPGATE_BASE/v1/files?name=bench-s3-[1-$S_COUNT]"
  id=$(curl -fsS -H "$UPGATE_AUTH" --data-binary "@$S_SMALL" "$UPGATE_BASE/v1/files?name=bench-s4" |
    sed -n 's/^{"id":"\([^"]*\)".*/\1/p' || true)
  s_run s4 "$col" "$S_COUNT" -Z --parallel-max "$SMALL_CONNS" -H "$UPGATE_AUTH" \
    "$UPGATE_BASE/v1/files/$id/content?n=[1-$S_COUNT]"
}

# Round r's figures of key/column (just measured by s_run), kept for the medians.
declare -A ROUND
keep_round() {
  local k=$1 c=$2 r=$3 peak=${4:-}
  ROUND[$k,$c,$r]="${MIBPS[$k,$c]:-?} ${S3_CPU[$k,$c]:-?} ${RGW_US[$k,$c]:-?} ${P50[$k,$c]:-?} ${P99[$k,$c]:-?} ${peak:-?}"
  [[ -n "$peak" ]] && S3_PEAK[$k,${c#upgate-}]=$(awk -v a="${S3_PEAK[$k,${c#upgate-}]:-0}" -v b="$peak" \
    'BEGIN { print (b > a ? b : a) }')
  echo "   round $r: ${ROUND[$k,$c,$r]} (MiB/s, upgate CPU µs, RGW CPU µs, p50, p99, peak RSS MiB)"
}
# The median over the rounds of field f (1-based) of key/column.
round_median() {
  local k=$1 c=$2 f=$3 r
  for ((r = 1; r <= S_ROUNDS; r++)); do awk -v f="$f" '{ print $f }' <<<"${ROUND[$k,$c,$r]:-?}"; done |
    grep -v '?' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "?";
      else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Replaces s1/s2's single figures with the medians of the rounds.
s_medians() {
  local k c
  for k in s1 s2; do
    for c in rgw upgate-s3; do
      MIBPS[$k,$c]=$(round_median "$k" "$c" 1)
      [[ $c == rgw ]] || S3_CPU[$k,$c]=$(round_median "$k" "$c" 2)
      RGW_US[$k,$c]=$(round_median "$k" "$c" 3)
      P50[$k,$c]=$(round_median "$k" "$c" 4) P99[$k,$c]=$(round_median "$k" "$c" 5)
    done
  done
}

run_s3() {
  S_COUNT=${BENCH_S3_SMALL_COUNT:-$([[ $QUICK == 1 ]] && echo 640 || echo 3200)}
  S_ROUNDS=${BENCH_S3_ROUNDS:-3}
  S_BIG="$TMP/s-big.bin" S_SMALL="$TMP/s-small.bin"
  declare -gA S_BIG_ID
  head -c "$SINGLE_SIZE" /dev/urandom >"$S_BIG"
  head -c "$SMALL_SIZE" /dev/urandom >"$S_SMALL"
  local obj="$S3_ENDPOINT/$S3_BUCKET/direct" sig r n
  s3_sig; sig=("${S3_SIG[@]}")
  for n in client.rgw osd.0; do pin 0 "$(cat "$S3_BENCH_DIR/run/$n.pid")"; done
  [[ $S3_PIN == 1 ]] && echo "-- s: radosgw + OSD pinned to CPU 0, upgate + curl to CPU 1"
  local s3_up=0
  if [[ " $BLOB_KINDS " == *" s3 "* ]] && s_start s3; then s3_up=1; fi
  sync
  for ((r = 1; r <= S_ROUNDS; r++)); do
    echo "-- s: round $r of $S_ROUNDS"
    s_run s1 rgw 1 "${sig[@]}" -T "$S_BIG" "$obj/s1-$r"; keep_round s1 rgw "$r"
    ((s3_up)) && s_big_upgate s3 "$r"
    s_run s2 rgw 1 "${sig[@]}" "$obj/s1-$r"; keep_round s2 rgw "$r"
    ((s3_up)) && s_big_download_upgate s3 "$r"
  done
  s_medians
  s_run s3 rgw "$S_COUNT" -Z --parallel-max "$SMALL_CONNS" "${sig[@]}" -T "$S_SMALL" "$obj/s3-[1-$S_COUNT]"
  s3_curl -o /dev/null -T "$S_SMALL" "$obj/s4" || true
  s_run s4 rgw "$S_COUNT" -Z --parallel-max "$SMALL_CONNS" "${sig[@]}" "$obj/s4?n=[1-$S_COUNT]"
  if ((s3_up)); then s_small_upgate s3; stop_upgate; fi
  if [[ " $BLOB_KINDS " == *" local "* ]] && s_start local; then
    s_big_upgate local 1; s_big_download_upgate local 1; s_small_upgate local; stop_upgate
  fi
  rm -f "$S_BIG"
}

s3_report() {
  local cols=(rgw) b
  for b in $BLOB_KINDS; do cols+=("upgate-$b"); done
  echo
  echo "== scenario s: blobs on S3 (private Ceph RGW, bluestore) beside local; one curl client for all"
  echo "   *: s1/s2 RGW and upgate-s3: medians of $S_ROUNDS alternating rounds (upgate-local: one round)$([[ $S3_PIN == 1 ]] && echo "; RGW+OSD on CPU 0, upgate+curl on CPU 1")"
  printf '%-37s' "scenario"; for b in "${cols[@]}"; do printf ' | %-16s' "$b"; done; echo " | upgate-s3/rgw"
  local k label arr
  for k in s1 s2 s3 s4; do
    case $k in
      s1) label="s1) 1 x $SINGLE_LABEL upload (MiB/s)*"; arr=MIBPS ;;
      s2) label="s2) 1 x $SINGLE_LABEL download (MiB/s)*"; arr=MIBPS ;;
      s3) label="s3) $S_COUNT x 4 KiB upload (req/s)"; arr=RPS ;;
      s4) label="s4) $S_COUNT x 4 KiB download (req/s)"; arr=RPS ;;
    esac
    printf '%-37s' "$label"
    for b in "${cols[@]}"; do printf ' | %-16s' "$(cell "$k" "$b" "$arr")"; done
    echo " | $(s_ratio "$k" "$arr")"
  done
  echo
  echo "latency p50 / p99 (ms, per request as curl saw it):"
  for k in s1 s2 s3 s4; do
    printf '  %-35s' "$k"; for b in "${cols[@]}"; do printf ' | %-16s' "${P50[$k,$b]:-?} / ${P99[$k,$b]:-?}"; done; echo
  done
  echo "CPU per request (µs, user + system): upgate | radosgw + OSD:"
  for k in s1 s2 s3 s4; do
    printf '  %-35s' "$k"; for b in "${cols[@]}"; do
      if [[ $b == rgw ]]; then printf ' | %-16s' "- | ${RGW_US[$k,rgw]:-?}"
      else printf ' | %-16s' "${S3_CPU[$k,$b]:-?} | ${RGW_US[$k,$b]:-?}"; fi
    done; echo
  done
  echo "upgate peak RSS (MiB, VmHWM, reset before each; the highest of the rounds):"
  for k in s1 s2; do
    printf '  %-35s' "$k"; printf ' | %-16s' "-"
    for b in $BLOB_KINDS; do printf ' | %-16s' "${S3_PEAK[$k,$b]:-?}"; done; echo
  done
}
s_ratio() {  # key metric-array: upgate-s3 / rgw
  local -n a=$2
  local r="${a[$1,rgw]:-}" u="${a[$1,upgate-s3]:-}"
  if [[ -z "$r" || -z "$u" || -n "${ERRS[$1,rgw]:-}" || -n "${ERRS[$1,upgate-s3]:-}" ]]; then echo "n/a"; return; fi
  awk -v r="$r" -v u="$u" 'BEGIN { if (r > 0) printf "%.2f", u / r; else print "n/a" }'
}
