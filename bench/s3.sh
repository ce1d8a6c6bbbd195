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
# BENCH_S3_MULTIPART=1 adds column rgw-mp to s1's rounds: the same 1 GiB as a multipart upload
# sent by curl straight to RGW, with upgate's part size and parts in flight (part_size_mb and
# parts_in_memory - 1 from BENCH_S3_OPTIONS): what the protocol costs RGW without upgate.
# upgate's own s1 is one streamed PUT (curl -T sends Content-Length, under single_put_max_mb),
# so rgw-mp now shows what its multipart fallback (unknown length, over 5 GiB) would cost.
# BENCH_S3_PERF=dir records `perf record -g` of upgate during each round's s1 and s2 into dir;
# BENCH_S3_RGW_LOG=file keeps RGW's request log.

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
    S3_CAPACITY_GB=${BENCH_S3_CAPACITY_GB:-$(((2 + ${BENCH_S3_MULTIPART:-0}) * ${BENCH_S3_ROUNDS:-3} + 6))} bash "$SERVICES/s3-up.sh") || return 1
  eval "$env"
  export UPGATE_S3_ACCESS_KEY=$S3_ACCESS_KEY UPGATE_S3_SECRET_KEY=$S3_SECRET_KEY
  [[ "$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$S3_BUCKET")" == 200 ]]
}
stop_rgw() {
  [[ -n "$S3_BENCH_DIR" ]] || return 0
  # BENCH_S3_RGW_LOG=file keeps RGW's request log (start time and latency of every request).
  [[ -n "${BENCH_S3_RGW_LOG:-}" ]] && cp "$S3_BENCH_DIR/log/client.rgw.log" "$BENCH_S3_RGW_LOG"
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
  s_client -sS --no-progress-meter -o /dev/null -w '%{http_code} %{time_total} %{size_upload} %{size_download}\n' \
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
s_pin() {  # cpu pid: every thread of pid (threads it starts later inherit it)
  [[ $S3_PIN == 1 ]] && taskset -a -p -c "$1" "$2" >/dev/null
  return 0
}
s_client() { if [[ $S3_PIN == 1 ]]; then taskset -c 1 curl "$@"; else curl "$@"; fi; }

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
  s_pin 1 "$UPGATE_PID"
  UPGATE_BASE="http://127.0.0.1:$UPGATE_PORT" UPGATE_AUTH="Authorization: Bearer $UPGATE_KEY"
}

# perf record of upgate into $BENCH_S3_PERF/<name>.data while a transfer runs.
S3_PERF_PID=""
perf_start() {
  [[ -n "${BENCH_S3_PERF:-}" ]] || return 0
  mkdir -p "$BENCH_S3_PERF"
  perf record -q -g -o "$BENCH_S3_PERF/$1.data" -p "$UPGATE_PID" 2>/dev/null &
  S3_PERF_PID=$!
  sleep 0.5  # attached
}
perf_stop() {
  [[ -n "$S3_PERF_PID" ]] || return 0
  kill -INT "$S3_PERF_PID" 2>/dev/null || true
  wait "$S3_PERF_PID" 2>/dev/null || true
  S3_PERF_PID=""
}

# The 1 GiB upload (s1) and download (s2) of round `r` through the running upgate.
s_big_upgate() {
  local blobs=$1 r=$2 col="upgate-$1" id
  sync; reset_peak_rss "$UPGATE_PID"
  perf_start "s1-$blobs-$r"
  s_run s1 "$col" 1 -H "$UPGATE_AUTH" -X POST -T "$S_BIG" "$UPGATE_BASE/v1/files?name=bench-s1-$r" \
    -D "$TMP/s1-$blobs.head"
  perf_stop
  s_keep_round s1 "$col" "$r" "$(peak_rss_mib "$UPGATE_PID")"
  id=$(sed -n 's/^Location: \/v1\/files\/\([^[:space:]]*\).*/\1/ip' "$TMP/s1-$blobs.head" || true)
  S_BIG_ID[$blobs,$r]=$id
}
s_big_download_upgate() {
  local blobs=$1 r=$2 col="upgate-$1"
  reset_peak_rss "$UPGATE_PID"
  perf_start "s2-$blobs-$r"
  s_run s2 "$col" 1 -H "$UPGATE_AUTH" "$UPGATE_BASE/v1/files/${S_BIG_ID[$blobs,$r]:-none}/content"
  perf_stop
  s_keep_round s2 "$col" "$r" "$(peak_rss_mib "$UPGATE_PID")"
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

# s1 as a multipart upload straight to RGW (BENCH_S3_MULTIPART=1): parts of upgate's size,
# as many at a time as upgate has in flight, completed in order; timed from initiate to complete.
S3_MP=${BENCH_S3_MULTIPART:-0}
s_opt() {  # name default: a number from BENCH_S3_OPTIONS
  local v; v=$(sed -n "s/.*[&?]$1=\([0-9]*\).*/\1/p" <<<"${BENCH_S3_OPTIONS:-}")
  echo "${v:-$2}"
}
s_multipart_rgw() {
  local r=$1 url="$S3_ENDPOINT/$S3_BUCKET/direct/mp-$r" id i=0 f args=() t0 t1 r0 xml
  local at_once=$(($(s_opt parts_in_memory 2) - 1))
  ((at_once >= 1)) || at_once=1
  if [[ ! -e "$TMP/s-part-000" ]]; then
    split -b "$(s_opt part_size_mb 8)M" -d -a 3 "$S_BIG" "$TMP/s-part-"
  fi
  echo "-- s1 / rgw-mp ($(s_opt part_size_mb 8) MiB parts, $at_once at a time)"
  s3_sig
  r0=$(rgw_ticks); t0=$(date +%s.%N)
  id=$(s_client -sS "${S3_SIG[@]}" -X POST "$url?uploads=" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
  for f in "$TMP"/s-part-*; do
    i=$((i + 1)); args+=(-o /dev/null -T "$f" "$url?partNumber=$i&uploadId=$id")
  done
  xml="<CompleteMultipartUpload>$(s_client -sS -Z --parallel-max "$at_once" "${S3_SIG[@]}" \
    -w '%{url} %header{etag}\n' "${args[@]}" | sed -n 's/.*partNumber=\([0-9]*\)&.* \(.*\)$/\1 \2/p' |
    sort -n | awk '{ printf "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", $1, $2 }')"
  xml+="</CompleteMultipartUpload>"
  s_client -sS "${S3_SIG[@]}" -o "$TMP/mp-complete.xml" -X POST --data-binary "$xml" "$url?uploadId=$id"
  t1=$(date +%s.%N)
  RGW_US[s1,rgw-mp]=$(ticks_to_us $(($(rgw_ticks) - r0)) 1)
  if grep -q '<CompleteMultipartUploadResult' "$TMP/mp-complete.xml"; then
    MIBPS[s1,rgw-mp]=$(awk -v t0="$t0" -v t1="$t1" -v b="$SINGLE_SIZE" 'BEGIN { printf "%.2f", b / 1048576 / (t1 - t0) }')
    P50[s1,rgw-mp]=$(awk -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f", (t1 - t0) * 1000 }')
    P99[s1,rgw-mp]=${P50[s1,rgw-mp]}
  else
    MIBPS[s1,rgw-mp]="?"; ERRS[s1,rgw-mp]="failed"; ANY_ERRORS=1; head -c 300 "$TMP/mp-complete.xml"
  fi
  echo "   $i parts: ${MIBPS[s1,rgw-mp]} MiB/s"
}

# Round r's figures of key/column (just measured by s_run), kept for the medians.
declare -A S_ROUND
s_keep_round() {
  local k=$1 c=$2 r=$3 peak=${4:-}
  S_ROUND[$k,$c,$r]="${MIBPS[$k,$c]:-?} ${S3_CPU[$k,$c]:-?} ${RGW_US[$k,$c]:-?} ${P50[$k,$c]:-?} ${P99[$k,$c]:-?} ${peak:-?}"
  [[ -n "$peak" ]] && S3_PEAK[$k,${c#upgate-}]=$(awk -v a="${S3_PEAK[$k,${c#upgate-}]:-0}" -v b="$peak" \
    'BEGIN { print (b > a ? b : a) }')
  echo "   round $r: ${S_ROUND[$k,$c,$r]} (MiB/s, upgate CPU µs, RGW CPU µs, p50, p99, peak RSS MiB)"
}
# The median over the rounds of field f (1-based) of key/column.
s_round_median() {
  local k=$1 c=$2 f=$3 r
  for ((r = 1; r <= S_ROUNDS; r++)); do awk -v f="$f" '{ print $f }' <<<"${S_ROUND[$k,$c,$r]:-?}"; done |
    grep -v '?' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "?";
      else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The median over the rounds of column u's MiB/s over column b's, round by round (the load of a
# shared VM drifts between rounds, so a ratio within a round compares best).
declare -A S_RATIO
s_ratio_median() {
  local k=$1 u=$2 b=$3 r
  for ((r = 1; r <= S_ROUNDS; r++)); do
    awk -v x="${S_ROUND[$k,$u,$r]:-?}" -v y="${S_ROUND[$k,$b,$r]:-?}" \
      'BEGIN { split(x, a, " "); split(y, c, " "); if (a[1] != "?" && c[1] > 0) printf "%.2f\n", a[1] / c[1] }'
  done | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
# Replaces s1/s2's single figures with the medians of the rounds.
s_medians() {
  local k c
  for k in s1 s2; do
    for c in rgw rgw-mp upgate-s3; do
      [[ -n "${S_ROUND[$k,$c,1]:-}" ]] || continue
      MIBPS[$k,$c]=$(s_round_median "$k" "$c" 1)
      [[ $c == rgw* ]] || S3_CPU[$k,$c]=$(s_round_median "$k" "$c" 2)
      RGW_US[$k,$c]=$(s_round_median "$k" "$c" 3)
      P50[$k,$c]=$(s_round_median "$k" "$c" 4) P99[$k,$c]=$(s_round_median "$k" "$c" 5)
    done
    S_RATIO[$k,upgate-s3,rgw]=$(s_ratio_median "$k" upgate-s3 rgw)
    S_RATIO[$k,rgw-mp,rgw]=$(s_ratio_median "$k" rgw-mp rgw)
    S_RATIO[$k,upgate-s3,rgw-mp]=$(s_ratio_median "$k" upgate-s3 rgw-mp)
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
  for n in client.rgw osd.0; do s_pin 0 "$(cat "$S3_BENCH_DIR/run/$n.pid")"; done
  [[ $S3_PIN == 1 ]] && echo "-- s: radosgw + OSD pinned to CPU 0, upgate + curl to CPU 1"
  local s3_up=0
  if [[ " $BLOB_KINDS " == *" s3 "* ]] && s_start s3; then s3_up=1; fi
  sync
  for ((r = 1; r <= S_ROUNDS; r++)); do
    echo "-- s: round $r of $S_ROUNDS"
    s_run s1 rgw 1 "${sig[@]}" -T "$S_BIG" "$obj/s1-$r"; s_keep_round s1 rgw "$r"
    if [[ $S3_MP == 1 ]]; then s_multipart_rgw "$r"; s_keep_round s1 rgw-mp "$r"; fi
    ((s3_up)) && s_big_upgate s3 "$r"
    s_run s2 rgw 1 "${sig[@]}" "$obj/s1-$r"; s_keep_round s2 rgw "$r"
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
  rm -f "$S_BIG" "$TMP"/s-part-*
}

s3_report() {
  local cols=(rgw) b
  [[ $S3_MP == 1 ]] && cols+=(rgw-mp)
  for b in $BLOB_KINDS; do cols+=("upgate-$b"); done
  echo
  echo "== scenario s: blobs on S3 (private Ceph RGW, bluestore) beside local; one curl client for all"
  echo "   *: s1/s2 RGW and upgate-s3: medians of $S_ROUNDS alternating rounds (upgate-local: one round); ratios: the median of the rounds' ratios$([[ $S3_PIN == 1 ]] && echo "; RGW+OSD on CPU 0, upgate+curl on CPU 1")"
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
    for b in "${cols[@]}"; do
      if [[ $b == rgw-mp && $k != s1 ]]; then printf ' | %-16s' "-"; else printf ' | %-16s' "$(cell "$k" "$b" "$arr")"; fi
    done
    echo " | $(s_ratio "$k" "$arr")$([[ $S3_MP == 1 && $k == s1 ]] && echo " (rgw-mp / rgw: $(s_ratio "$k" "$arr" rgw-mp rgw), upgate-s3 / rgw-mp: $(s_ratio "$k" "$arr" upgate-s3 rgw-mp))")"
  done
  echo
  echo "latency p50 / p99 (ms, per request as curl saw it):"
  for k in s1 s2 s3 s4; do
    printf '  %-35s' "$k"; for b in "${cols[@]}"; do printf ' | %-16s' "${P50[$k,$b]:-?} / ${P99[$k,$b]:-?}"; done; echo
  done
  echo "CPU per request (µs, user + system): upgate | radosgw + OSD:"
  for k in s1 s2 s3 s4; do
    printf '  %-35s' "$k"; for b in "${cols[@]}"; do
      if [[ $b == rgw* ]]; then printf ' | %-16s' "- | ${RGW_US[$k,$b]:-?}"
      else printf ' | %-16s' "${S3_CPU[$k,$b]:-?} | ${RGW_US[$k,$b]:-?}"; fi
    done; echo
  done
  echo "upgate peak RSS (MiB, VmHWM, reset before each; the highest of the rounds):"
  for k in s1 s2; do
    printf '  %-35s' "$k"; printf ' | %-16s' "-"; [[ $S3_MP == 1 ]] && printf ' | %-16s' "-"
    for b in $BLOB_KINDS; do printf ' | %-16s' "${S3_PEAK[$k,$b]:-?}"; done; echo
  done
}
s_ratio() {  # key metric-array [column base-column]: upgate-s3 / rgw by default
  local -n a=$2
  local uc=${3:-upgate-s3} rc=${4:-rgw}
  local r="${a[$1,$rc]:-}" u="${a[$1,$uc]:-}"
  # s1/s2: the median of the rounds' own ratios.
  if [[ -n "${S_RATIO[$1,$uc,$rc]:-}" ]]; then echo "${S_RATIO[$1,$uc,$rc]}"; return; fi
  if [[ -z "$r" || -z "$u" || -n "${ERRS[$1,$rc]:-}" || -n "${ERRS[$1,$uc]:-}" ]]; then echo "n/a"; return; fi
  awk -v r="$r" -v u="$u" 'BEGIN { if (r > 0) printf "%.2f", u / r; else print "n/a" }'
}
