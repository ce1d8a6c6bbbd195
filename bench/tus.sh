# bench/tus.sh — scenario t of bench/run.sh (sourced by it; not run on its own): tus uploads
# to upgate (/v1/tus/, durable: a 204 means fsynced bytes and metadata) beside @tus/server
# 2.4.5 with its FileStore (npm; it does not fsync) and beside upgate's own plain upload of
# the same bytes, in one run (BENCH_SCENARIOS=t).
#
#   t1  one 1 GiB file (64 MiB with BENCH_QUICK=1) in 8 MiB chunks, by the real tus-js-client
#       (bench/node/tus_load.mjs), for both tus servers; upgate's plain upload column is the
#       same file in one POST /v1/files by bench/load.cc
#   t2  64 KiB files by creation-with-upload (one POST with the body per file) over 64
#       connections for SMALL_SECONDS, by bench/load.cc for both (a Node client would be the
#       bottleneck)
#   t1 also by bench/load.cc (--tus-chunk: a creation, then the 8 MiB PATCHes on one
#       connection), beside the plain POST by load.cc: the server's own cost of tus, with the
#       same client as the plain upload and one that is not the limit (BENCH_ROUNDS
#       alternating rounds, medians)
#   and, to read the ratios fairly, the client's own ceiling: tus-js-client against a null
#   tus endpoint (bench/node/tus_null.mjs: answers POST/HEAD/PATCH, discards the bytes), and
#   upgate's plain upload of the same file by a Node client (tus_load.mjs plain: the runtime
#   of tus-js-client, reading the file the same way) beside bench/load.cc's.
#   BENCH_TUS_BEFORE=<upgate binary>: upgate's rows also for that binary, in the same run
#   (before/after a change; it runs first).
#   BENCH_TUS_T2_ONLY=1: t2 alone, in BENCH_ROUNDS pairs (@tus/server, then upgate, each on a
#   fresh server and store), each pair's ratio and the medians.
# Goals (issue 16): t1 upgate >= 0.9x upgate plain and >= 1.0x @tus/server; t2 >= 5x.

TUS_NODE_DIR=bench/node
TUS_SERVER_PID=""
declare -A TUS  # "<scenario>,<column>": figure

tus_deps() {
  local want; want=$(sha256sum "$TUS_NODE_DIR/package-lock.json" | cut -d' ' -f1)
  [[ "$(cat "$TUS_NODE_DIR/node_modules/.upgate-lock-sha256" 2>/dev/null)" == "$want" ]] && return 0
  (cd "$TUS_NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) &&
    echo "$want" >"$TUS_NODE_DIR/node_modules/.upgate-lock-sha256"
}

# Starts bench/node/<script> with its arguments and a free port last, until it says ready;
# sets TUS_ENDPOINT. Returns 1 if it does not.
start_tus_node() {
  local script=$1 port; shift
  port=$(free_port)
  node "$TUS_NODE_DIR/$script" "$@" "$port" >"$TMP/$script.log" 2>&1 &
  TUS_SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q ready "$TMP/$script.log" 2>/dev/null && { TUS_ENDPOINT="http://127.0.0.1:$port/files/"; return 0; }
    sleep 0.1
  done
  return 1
}
start_tus_server() { mkdir -p "$TMP/tus-store" && start_tus_node tus_server.mjs "$TMP/tus-store"; }
stop_tus_server() { stop_pid "$TUS_SERVER_PID"; TUS_SERVER_PID=""; rm -rf "$TMP/tus-store"; }

# The null endpoint (client ceiling).
start_tus_null() { start_tus_node tus_null.mjs; }

# tus_load.mjs's figure for one large upload: column, endpoint, file, mode (large: tus-js-client
# in 8 MiB chunks; plain: one POST), then TUS_HEADERS.
tus_large() {
  local col=$1 endpoint=$2 file=$3 mode=${4:-large} log="$TMP/tus-t1-$1.log"
  echo "-- t1 / $col"
  node "$TUS_NODE_DIR/tus_load.mjs" "$mode" "$endpoint" "$file" 8 >"$log" 2>&1 || true
  sed 's/^/   /' "$log"
  TUS[t1,$col]=$(sed -n 's/^RESULT mibps=\([^ ]*\).*/\1/p' "$log")
  [[ -n "${TUS[t1,$col]}" ]] || { TUS[t1,$col]="failed"; ANY_ERRORS=1; }
}
# bench/load.cc's figure: column, url, load options.
tus_load() {
  local scn=$1 col=$2; shift 2
  run_load "$scn-$col" "$col" "$@"
  local key="$scn-$col,$col"
  if [[ $scn == t2 ]]; then TUS[$scn,$col]=${RPS[$key]:-failed}; else TUS[$scn,$col]=${MIBPS[$key]:-failed}; fi
  [[ -z "${ERRS[$key]:-}" ]] || TUS[$scn,$col]="${TUS[$scn,$col]} (${ERRS[$key]})"
}

run_tus() {
  command -v node >/dev/null || { echo "-- t: skipped, node not found"; return 0; }
  tus_deps || { echo "-- t: skipped, npm ci in $TUS_NODE_DIR failed"; ANY_ERRORS=1; return 0; }
  local file="$TMP/tus-large.bin" tus_small=(--size 65536 --concurrency 64 --duration "$SMALL_SECONDS"
    --header "Tus-Resumable: 1.0.0" --header "Upload-Length: 65536"
    --header "Content-Type: application/offset+octet-stream")
  if [[ ${BENCH_TUS_T2_ONLY:-} == 1 ]]; then
    tus_t2_pairs
    return 0
  fi
  head -c "$SINGLE_SIZE" /dev/urandom >"$file"
  settle
  if start_tus_server; then
    echo "== @tus/server $(node -p "require('./$TUS_NODE_DIR/node_modules/@tus/server/package.json').version") (FileStore) on $TUS_ENDPOINT"
    tus_large tus-server "$TUS_ENDPOINT" "$file"
    stop_tus_server
    settle
    # t2 on a fresh server and store, as upgate's below: neither carries t1's files into it.
    if start_tus_server; then
      tus_load t2 tus-server --url "$TUS_ENDPOINT" --method POST "${tus_small[@]}"
      stop_tus_server
    else
      echo "-- t2: @tus/server did not start again"; ANY_ERRORS=1
    fi
  else
    echo "-- t: @tus/server did not start"; tail -n 20 "$TMP/tus_server.mjs.log"; ANY_ERRORS=1
  fi
  settle
  if start_tus_null; then
    tus_large client-ceiling "$TUS_ENDPOINT" "$file"
    stop_tus_server
  else
    echo "-- t: the null tus endpoint did not start"; ANY_ERRORS=1
  fi
  settle
  if [[ -n "${BENCH_TUS_BEFORE:-}" ]]; then
    local after=$UPGATE
    UPGATE=$BENCH_TUS_BEFORE tus_upgate "@before" "$file"
    UPGATE=$after
  fi
  tus_upgate "" "$file"
  rm -rf "$file" "$TMP/tus-chunks"
}

# t2 alone (BENCH_TUS_T2_ONLY=1): ROUNDS pairs, @tus/server then upgate, each on a fresh server
# and store; each pair's ratio, and the medians. @tus/server's rate swings from run to run on
# this VM (bench/README.md), so pairs say more than one run. Uses tus_small of run_tus.
tus_t2_pairs() {
  local r servers="" upgates="" ratios=""
  for ((r = 1; r <= ROUNDS; r++)); do
    settle
    start_tus_server || { echo "-- t2: @tus/server did not start"; ANY_ERRORS=1; return 0; }
    tus_load t2 tus-server --url "$TUS_ENDPOINT" --method POST "${tus_small[@]}"
    stop_tus_server
    settle
    if [[ $UPGATE_OK != 1 ]] || ! start_upgate t2; then
      echo "-- t2 / upgate: not run: $UPGATE_WHY"; return 0
    fi
    tus_load t2 upgate --url "http://127.0.0.1:$UPGATE_PORT/v1/tus/" --method POST \
      --header "Authorization: Bearer $UPGATE_KEY" "${tus_small[@]}"
    stop_upgate
    servers+="${TUS[t2,tus-server]} "
    upgates+="${TUS[t2,upgate]} "
    ratios+="$(tus_ratio "${TUS[t2,upgate]}" "${TUS[t2,tus-server]}") "
  done
  TUS[t2,pairs]="@tus/server [$servers] upgate [$upgates] upgate / @tus/server [$ratios]"
  TUS[t2,tus-server]=$(median "$servers")
  TUS[t2,upgate]=$(median "$upgates")
  TUS[t2,ratio]=$(median "$ratios")
}

# upgate's rows: column suffix, file (uses tus_small of run_tus).
tus_upgate() {
  local sfx=$1 file=$2 base
  if [[ $UPGATE_OK == 1 ]] && start_upgate "t$sfx"; then
    base="http://127.0.0.1:$UPGATE_PORT"
    echo "== upgate $UPGATE"
    TUS_HEADERS="{\"Authorization\":\"Bearer $UPGATE_KEY\"}" tus_large "upgate$sfx" "$base/v1/tus/" "$file"
    settle
    # The server's own cost: plain POST and tus by load.cc in ROUNDS alternating rounds, medians
    # (one round of each swung by 0.77-0.93 between quiet runs).
    local r plain_rounds="" tus_rounds="" one=(--header "Authorization: Bearer $UPGATE_KEY"
      --size "$SINGLE_SIZE" --concurrency 1 --requests-per-conn 1)
    for ((r = 1; r <= ROUNDS; r++)); do
      tus_load t1 "upgate-plain$sfx" --url "$base/v1/files?name=bench-t1-{id}" --method POST "${one[@]}"
      plain_rounds+="${TUS[t1,upgate-plain$sfx]} "
      settle
      tus_load t1 "upgate-tus-load$sfx" --url "$base/v1/tus/" --tus-chunk 8M "${one[@]}"
      tus_rounds+="${TUS[t1,upgate-tus-load$sfx]} "
      settle
    done
    if ((ROUNDS > 1)); then
      echo "-- t1 rounds (MiB/s): plain POST [$plain_rounds] tus [$tus_rounds], both by load.cc"
      # A round that failed keeps its text (the last round's) in place of a median.
      [[ $plain_rounds =~ ^([0-9.]+\ )+$ ]] && TUS[t1,upgate-plain$sfx]=$(median "$plain_rounds")
      [[ $tus_rounds =~ ^([0-9.]+\ )+$ ]] && TUS[t1,upgate-tus-load$sfx]=$(median "$tus_rounds")
    fi
    TUS_HEADERS="{\"Authorization\":\"Bearer $UPGATE_KEY\"}" tus_large "upgate-plain-node$sfx" \
      "$base/v1/files?name=bench-t1-node" "$file" plain
    stop_upgate  # t2 on a fresh server and data folder, as @tus/server's
    settle
  else
    echo "-- t1 / upgate$sfx: not run: $UPGATE_WHY"
  fi
  if [[ $UPGATE_OK == 1 ]] && start_upgate "t2$sfx"; then
    base="http://127.0.0.1:$UPGATE_PORT"
    tus_load t2 "upgate$sfx" --url "$base/v1/tus/" --method POST --header "Authorization: Bearer $UPGATE_KEY" "${tus_small[@]}"
    settle  # the same files by plain POST /v1/files: what a durable 64 KiB upload costs without tus
    tus_load t2 "upgate-plain$sfx" --url "$base/v1/files?name=bench-t2-{id}" --method POST \
      --header "Authorization: Bearer $UPGATE_KEY" --size 65536 --concurrency 64 --duration "$SMALL_SECONDS"
    stop_upgate
  else
    echo "-- t2 / upgate$sfx: not run: $UPGATE_WHY"
  fi
}

# a / b to two places, or n/a.
tus_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

print_tus() {
  local sfx
  echo
  if [[ ${BENCH_TUS_T2_ONLY:-} == 1 ]]; then
    echo "t2: 64 KiB creation-with-upload x64 (files/s), $ROUNDS pairs: ${TUS[t2,pairs]:-?}"
    echo "  medians: @tus/server ${TUS[t2,tus-server]:-?} | upgate tus ${TUS[t2,upgate]:-?} | tus / @tus/server ${TUS[t2,ratio]:-?}"
    return 0
  fi
  echo "t1: $SINGLE_LABEL in 8 MiB chunks (MiB/s) | @tus/server (FileStore, no fsync) | tus-js-client to a null endpoint (client ceiling)"
  printf '  %-10s | %-10s\n' "${TUS[t1,tus-server]:-?}" "${TUS[t1,client-ceiling]:-?}"
  echo "  upgate binary | /v1/tus/ (durable) | plain POST, load.cc | plain POST, Node | tus / @tus/server | tus / plain Node | tus / plain load.cc"
  for sfx in ${BENCH_TUS_BEFORE:+@before} ""; do
    printf '  %-13s | %-10s | %-10s | %-10s | %-6s | %-6s | %s\n' "${sfx:-@after}" "${TUS[t1,upgate$sfx]:-?}" \
      "${TUS[t1,upgate-plain$sfx]:-?}" "${TUS[t1,upgate-plain-node$sfx]:-?}" \
      "$(tus_ratio "${TUS[t1,upgate$sfx]:-}" "${TUS[t1,tus-server]:-}")" \
      "$(tus_ratio "${TUS[t1,upgate$sfx]:-}" "${TUS[t1,upgate-plain-node$sfx]:-}")" \
      "$(tus_ratio "${TUS[t1,upgate$sfx]:-}" "${TUS[t1,upgate-plain$sfx]:-}")"
  done
  echo "  the server's own cost, one client that is not the limit: /v1/tus/ by load.cc | plain POST, load.cc | ratio"
  for sfx in ${BENCH_TUS_BEFORE:+@before} ""; do
    printf '  %-13s | %-10s | %-10s | %s\n' "${sfx:-@after}" "${TUS[t1,upgate-tus-load$sfx]:-?}" \
      "${TUS[t1,upgate-plain$sfx]:-?}" "$(tus_ratio "${TUS[t1,upgate-tus-load$sfx]:-}" "${TUS[t1,upgate-plain$sfx]:-}")"
  done
  echo "t2: 64 KiB creation-with-upload x64 (files/s) | @tus/server ${TUS[t2,tus-server]:-?}"
  for sfx in ${BENCH_TUS_BEFORE:+@before} ""; do
    printf '  %-13s | upgate tus %-10s | upgate plain POST %-10s | tus / @tus/server %s\n' "${sfx:-@after}" \
      "${TUS[t2,upgate$sfx]:-?}" "${TUS[t2,upgate-plain$sfx]:-?}" \
      "$(tus_ratio "${TUS[t2,upgate$sfx]:-}" "${TUS[t2,tus-server]:-}")"
  done
}
