#!/usr/bin/env bash
# Upload benchmark: nginx (dav PUT, the baseline) and upgate side by side in one
# run, same machine, same load generator (bench/load.cc), reported as ratios.
#
# Environment:
#   BENCH_QUICK=1        smoke run: 64 MiB single, 8 x 8 MiB, 3 s of small uploads
#   BUILD_DIR=dir        cmake build dir (default: build)
#   BENCH_SKIP_BUILD=1   use the binaries already in BUILD_DIR
#   BENCH_SCENARIOS="a c" run only these scenarios (default: a b c j)
#                        j = Jodoo: get_upload_token req/s, and 4 KiB Qiniu form uploads
#                        (token verify + durable write + metadata) beside nginx's 4 KiB PUT
#                        t = tus (bench/tus.sh): 1 GiB in 8 MiB chunks with tus-js-client and
#                        64 KiB creation-with-upload x64, upgate /v1/tus/ beside @tus/server (npm,
#                        installed into bench/node by the script) and upgate's plain upload
#                        d = small downloads (bench/download.sh): 4 KiB GET x64 with wrk --latency,
#                        upgate's native API and signed link beside nginx's static file
#                        w = the sweeper at scale (bench/sweep.sh): expired objects/s of one sweep
#                        (BENCH_SWEEP_OBJECTS, default 40000), p50/p99 of 4 KiB uploads beside a
#                        sweep vs alone, BENCH_SWEEP_ROUNDS alternating rounds (default 3)
#   BENCH_ROUNDS=N       alternating rounds of a, b, c and j (default 3; 1 with BENCH_QUICK=1):
#                        nginx, upgate, nginx, ...; the table shows the medians
#   BENCH_TMPDIR=dir     where servers write (default: $TMPDIR or /tmp); the disk measured
#   BENCH_UPGATE_ARGS="..." extra options for `upgate serve` (e.g. --blocking-threads 16)
#   BENCH_META="sqlite postgres"  metadata stores to run upgate's c and j on (default: sqlite);
#                        postgres starts a private PostgreSQL 15 through ../shared/services/pg-up.sh,
#                        restarted durable (fsync, synchronous_commit, full_page_writes on)
#   BENCH_BLOBS="local s3"  adds scenario s (bench/s3.sh): 1 GiB and 4 KiB uploads and
#                        downloads through upgate on each of these blob stores, and straight to a
#                        private Ceph RGW (bluestore, via ../shared/services/s3-up.sh) as the
#                        baseline, with upgate's peak RSS; BENCH_S3_SMALL_COUNT (default 3200)
#                        4 KiB requests per column; BENCH_S3_OPTIONS="&part_size_mb=16&parts_in_memory=3"
#                        is appended to upgate's s3:// URL; BENCH_S3_ROUNDS, BENCH_S3_MULTIPART,
#                        BENCH_S3_PIN, BENCH_S3_PERF, BENCH_S3_RGW_LOG: see bench/s3.sh
#
# Exit status: 0 when both halves ran without errors, 1 otherwise (nginx figures
# are still printed when the upgate half cannot run).
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/s3.sh
source bench/tus.sh
source bench/download.sh
source bench/sweep.sh
BUILD_DIR=${BUILD_DIR:-build}
QUICK=${BENCH_QUICK:-0}
NGINX=/usr/sbin/nginx

if [[ "$QUICK" == 1 ]]; then
  SINGLE_SIZE=$((64 << 20)); SINGLE_LABEL="64 MiB"
  PAR_SIZE=$((8 << 20)); PAR_LABEL="8 MiB"
  SMALL_SECONDS=3
else
  SINGLE_SIZE=$((1 << 30)); SINGLE_LABEL="1 GiB"
  PAR_SIZE=$((64 << 20)); PAR_LABEL="64 MiB"
  SMALL_SECONDS=10
fi
ROUNDS=${BENCH_ROUNDS:-$([[ "$QUICK" == 1 ]] && echo 1 || echo 3)}
PAR_CONNS=8
SMALL_SIZE=4096
SMALL_CONNS=64

die() { echo "bench: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is required (scripts/install-deps.sh installs it)"
[[ -x "$NGINX" ]] || die "$NGINX not found (Debian package nginx-light; scripts/install-deps.sh installs it)"

# --- temp dir and cleanup ----------------------------------------------------
BASE_TMP=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
TMP=$(mktemp -d "$BASE_TMP/upgate-bench.XXXXXX")
NGINX_PID=""
UPGATE_PID=""

stop_pid() {  # pid: TERM, wait up to 5 s, then KILL
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$UPGATE_PID"; UPGATE_PID=""
  stop_pid "$NGINX_PID"; NGINX_PID=""
  # Defined further down (or in bench/s3.sh, bench/tus.sh): absent when the run stops early.
  local f
  for f in stop_postgres stop_rgw stop_tus_server; do
    declare -F "$f" >/dev/null && "$f"
  done
  rm -rf "$TMP"
  [[ -z "${DD_SRC:-}" ]] || rm -f "$DD_SRC"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -------------------------------------------------------------------
LOAD="$BUILD_DIR/upgate_load"
UPGATE="$BUILD_DIR/upgate"
UPGATE_BUILD_OK=1
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building upgate_load and upgate in $BUILD_DIR"
  if cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/configure.log" 2>&1; then
    # Built separately so a broken upgate build still leaves the nginx baseline runnable.
    cmake --build "$BUILD_DIR" --target upgate_load || LOAD=""
    cmake --build "$BUILD_DIR" --target upgate || UPGATE_BUILD_OK=0
  else
    tail -n 20 "$TMP/configure.log" >&2
    echo "bench: cmake configure failed; building only the load generator" >&2
    LOAD=""; UPGATE_BUILD_OK=0
  fi
  if [[ -z "$LOAD" ]]; then  # load.cc is standalone: the baseline needs nothing else
    LOAD="$TMP/upgate_load"
    "${CXX:-c++}" -std=c++20 -O2 -pthread bench/load.cc -o "$LOAD"
  fi
fi
[[ -x "$LOAD" ]] || die "$LOAD missing (build target upgate_load)"

# A port nobody listens on (small race until the server binds; fine for a bench).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), where clients' ports go
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# --- PostgreSQL (BENCH_META has postgres) ----------------------------------------
META_KINDS=${BENCH_META:-sqlite}
PG_BENCH_DIR=""
PG_BENCH_CTL=()
SERVICES="$(pwd)/../shared/services"
# pg-up.sh makes the cluster (and installs PostgreSQL) but starts it for tests,
# without fsync; a bench against SQLite's fsyncs needs it durable, so restart it.
start_postgres() {
  local port; port=$(free_port)
  # Not under $TMP: the postgres user must reach it, and $TMP is private.
  PG_BENCH_DIR="$BASE_TMP/upgate-bench-pg-$$"
  eval "$(PG_PORT=$port PG_DIR=$PG_BENCH_DIR bash "$SERVICES/pg-up.sh")" || return 1
  local ctl=(runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_BENCH_DIR/data" -w)
  [[ $(id -u) -eq 0 ]] || ctl=("${ctl[@]:3}")
  PG_BENCH_CTL=("${ctl[@]}")  # from here on, cleanup stops it
  "${ctl[@]}" -m fast stop >/dev/null &&
  "${ctl[@]}" -l "$PG_BENCH_DIR/postgres.log" start -o "-c listen_addresses=127.0.0.1 -p $port \
    -c unix_socket_directories='$PG_BENCH_DIR' -c fsync=on -c synchronous_commit=on \
    -c full_page_writes=on -c max_connections=200" >/dev/null
}
stop_postgres() {
  [[ -n "$PG_BENCH_DIR" ]] || return 0
  ((${#PG_BENCH_CTL[@]} == 0)) || "${PG_BENCH_CTL[@]}" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_BENCH_DIR" "$PG_BENCH_DIR.lock"  # and pg-up.sh's lock file beside it
  PG_BENCH_DIR=""
}
# CPU ticks of the whole cluster (the postmaster and every backend, checkpointer, WAL
# writer) and the WAL position in bytes, so far.
pg_cost() {
  local pm t c; pm=$(head -n 1 "$PG_BENCH_DIR/data/postmaster.pid") t=$(cpu_ticks "$pm")
  for c in $(pgrep -P "$pm"); do t=$((t + $(cpu_ticks "$c"))); done
  echo "$t $(psql -tA "$PG_ADMIN_URL" -c "SELECT pg_current_wal_lsn() - '0/0'")"
}
# An empty database for one upgate run (each scenario starts clean).
fresh_database() {
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS upgate_bench WITH (FORCE)" \
    -c "CREATE DATABASE upgate_bench OWNER $PG_USER" >/dev/null &&
  echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/upgate_bench"
}

# --- machine -------------------------------------------------------------------
MODEL=$(grep -m1 -i '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
[[ -n "$MODEL" ]] || MODEL=$(uname -m)
FS_INFO=$(df -PT "$TMP" | awk 'NR==2 {print $2 " on " $1}')
echo "== machine: $(nproc) CPUs, $MODEL; kernel $(uname -r)"
echo "== date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "== disk:    $TMP ($FS_INFO)"
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
echo "== load:    $LOAD1 (1 min average before the run)"
# Both servers and the load generator need every CPU: a concurrent compile skews
# the figures a lot (seen: 10x on scenario c with 2 CPUs), and not equally per half.
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; then
  echo "== WARNING: the machine is busy (load $LOAD1); figures will be noisy"
fi
[[ "$QUICK" == 1 ]] && echo "== BENCH_QUICK=1: reduced sizes (smoke run, not for publishing)"

# --- nginx ---------------------------------------------------------------------
NGINX_PORT=$(free_port)
NGX="$TMP/nginx"
mkdir -p "$NGX/www/up" "$NGX/body"
{
  # As root the workers would drop to nobody and could not write our 0700 temp dir.
  [[ $(id -u) -eq 0 ]] && echo "user root;"
  cat <<EOF
worker_processes 2;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  # Every temp path in our dir: the compiled-in defaults are under /var/lib/nginx.
  client_body_temp_path $NGX/body;
  proxy_temp_path $NGX/proxy;
  fastcgi_temp_path $NGX/fastcgi;
  uwsgi_temp_path $NGX/uwsgi;
  scgi_temp_path $NGX/scgi;
  keepalive_requests 1000000;  # the default (1000) would reconnect mid-run in scenario c
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $NGX/www;
    client_max_body_size 0;
    location /up/ {
      dav_methods PUT;
      create_full_put_path on;
    }
  }
}
EOF
} >"$NGX/nginx.conf"

"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$NGX/stdout.log" 2>&1 &
NGINX_PID=$!
ready=0
for _ in $(seq 100); do
  kill -0 "$NGINX_PID" 2>/dev/null || break
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$NGINX_PORT/" || true)
  [[ "$code" != 000 ]] && { ready=1; break; }
  sleep 0.1
done
if [[ $ready != 1 ]]; then
  cat "$NGX/error.log" "$NGX/stdout.log" >&2 || true
  die "nginx did not start"
fi
echo "== nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$NGINX_PORT (2 workers)"

# --- upgate --------------------------------------------------------------------
UPGATE_KEY="upk_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
UPGATE_PORT=""
UPGATE_OK=1
UPGATE_WHY=""
UPGATE_LOG_TAIL=""
if [[ $UPGATE_BUILD_OK != 1 ]]; then
  UPGATE_OK=0; UPGATE_WHY="upgate did not build"
elif [[ ! -x "$UPGATE" ]]; then
  UPGATE_OK=0; UPGATE_WHY="$UPGATE does not exist"
fi

# Starts a fresh upgate on an empty data dir (each scenario starts clean, which
# is also how its uploads get deleted between scenarios), with its blobs under
# --data unless a --blobs URL is given. Returns 1 on failure.
start_upgate() {
  local name=$1 meta=${2:-sqlite} blobs=${3:-}
  local data="$TMP/upgate-data-$name" log="$TMP/upgate-$name.log" meta_args=()
  if [[ $meta == postgres ]]; then
    local url; url=$(fresh_database) || { UPGATE_WHY="no PostgreSQL database"; return 1; }
    meta_args=(--meta "$url")
  fi
  [[ -n "$blobs" ]] && meta_args+=(--blobs "$blobs")
  UPGATE_PORT=$(free_port)
  "$UPGATE" serve --listen "127.0.0.1:$UPGATE_PORT" --data "$data" --bootstrap-key "$UPGATE_KEY" \
    "${meta_args[@]}" ${BENCH_UPGATE_ARGS:-} >"$log" 2>&1 &
  UPGATE_PID=$!
  for _ in $(seq 100); do  # 10 s
    if ! kill -0 "$UPGATE_PID" 2>/dev/null; then
      wait "$UPGATE_PID" 2>/dev/null || true
      UPGATE_PID=""
      UPGATE_WHY="upgate exited during startup"
      UPGATE_LOG_TAIL=$(tail -n 20 "$log")
      return 1
    fi
    if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$UPGATE_PORT/healthz"; then return 0; fi
    sleep 0.1
  done
  stop_pid "$UPGATE_PID"; UPGATE_PID=""
  UPGATE_WHY="GET /healthz not 200 within 10 s"
  UPGATE_LOG_TAIL=$(tail -n 20 "$log")
  return 1
}
stop_upgate() {
  stop_pid "$UPGATE_PID"; UPGATE_PID=""
  rm -rf "$TMP"/upgate-data-*
}

# --- running one measurement ---------------------------------------------------
declare -A MIBPS RPS P50 P99 CPU_US CLIENT_US CSW ERRS PG_US PG_WAL ROUND_FIGS
ANY_ERRORS=0

# run_load scenario server args...: runs upgate_load, keeps its RESULT figures.
# CPU time (utime + stime, clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks used so far by upgate, or by nginx's master and workers.
server_ticks() {
  if [[ $1 == upgate ]]; then
    [[ -n "${UPGATE_PID:-}" ]] && cpu_ticks "$UPGATE_PID" || echo 0
    return
  fi
  local master t=0 c
  master=$(cat "$NGX/nginx.pid" 2>/dev/null) || { echo 0; return; }
  t=$(cpu_ticks "$master")
  for c in $(pgrep -P "$master"); do t=$((t + $(cpu_ticks "$c"))); done
  echo "$t"
}
# Ticks over requests as µs per request ("?" without requests).
ticks_per_request() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="${2:-0}" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "?" }'
}
# Context switches (voluntary + involuntary) over all of a process's threads so far.
ctx_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

run_load() {
  local scn=$1 server=$2; shift 2
  local log="$TMP/load-$scn-$server.log" rc=0 ticks0 csw0=0 pg0=() client
  echo "-- $scn / $server"
  ticks0=$(server_ticks "$server")
  [[ $server == upgate && -n "$UPGATE_PID" ]] && csw0=$(ctx_switches "$UPGATE_PID")
  [[ $scn == *-pg ]] && read -ra pg0 <<<"$(pg_cost)"
  # The load generator's own CPU (bash's `time`: no package needed), as it shares the CPUs.
  client=$({ TIMEFORMAT='%U %S'; time "$LOAD" --name "$scn-$server" "$@" >"$log" 2>&1 || echo "rc=$?" >&2; } 2>&1)
  [[ $client == *rc=* ]] && rc=${client##*rc=} && client=${client%%rc=*}
  if [[ $scn == *-pg ]]; then  # what one request costs the database (for docs/scale-out.md)
    local pg1 n; read -ra pg1 <<<"$(pg_cost)"; n=$(sed -n 's/^RESULT .* requests=\([0-9]*\).*/\1/p' "$log")
    PG_US[$scn]=$(awk -v t=$((pg1[0] - pg0[0])) -v hz="$(getconf CLK_TCK)" -v n="${n:-0}" \
      'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "?" }')
    PG_WAL[$scn]=$(awk -v b=$((pg1[1] - pg0[1])) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.0f", b / n; else print "?" }')
  fi
  # CPU per request: steadier than req/s on a machine whose speed swings, and it shows who
  # takes the shared CPUs (the server, or the load generator beside it).
  local requests; requests=$(sed -n 's/^RESULT .* requests=\([0-9]*\).*/\1/p' "$log")
  CPU_US[$scn,$server]=$(ticks_per_request $(($(server_ticks "$server") - ticks0)) "$requests")
  CLIENT_US[$scn,$server]=$(awk -v s="$client" -v n="${requests:-0}" \
    'BEGIN { split(s, t, " "); if (n > 0) printf "%.0f", (t[1] + t[2]) * 1e6 / n; else print "?" }')
  if [[ $server == upgate && -n "$UPGATE_PID" ]]; then
    CSW[$scn]=$(awk -v c=$(($(ctx_switches "$UPGATE_PID") - csw0)) -v n="${requests:-0}" \
      'BEGIN { if (n > 0) printf "%.1f", c / n; else print "?" }')
  fi
  sed 's/^/   /' "$log"
  local result
  result=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  if [[ -z "$result" ]]; then
    ERRS[$scn,$server]="failed"; ANY_ERRORS=1; return 0
  fi
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
  MIBPS[$scn,$server]=$(field mibps)
  RPS[$scn,$server]=$(field rps)
  P50[$scn,$server]=$(field p50_ms)
  P99[$scn,$server]=$(field p99_ms)
  local errors; errors=$(field errors)
  if [[ $rc -ne 0 || "$errors" != 0 ]]; then
    ERRS[$scn,$server]="$errors errors"; ANY_ERRORS=1
  fi
}

# Flush dirty pages and drop uploaded files so one run does not pay for another's writeback.
settle() {
  rm -rf "${NGX:?}/www/up" && mkdir -p "$NGX/www/up"
  sync
}

# scenario name free_bytes_needed load-args...: ROUNDS alternating rounds (nginx,
# upgate on each metadata store; for a also dd), then the medians.
run_scenario() {
  local scn=$1 need=$2; shift 2
  local free round
  free=$(( $(df -Pk "$TMP" | awk 'NR==2 {print $4}') * 1024 ))
  if (( free < need )); then
    echo "-- $scn: skipped, $((free >> 20)) MiB free in $TMP, need $((need >> 20)) MiB"
    ERRS[$scn,nginx]="skipped"; ERRS[$scn,upgate]="skipped"
    return 0
  fi
  for ((round = 1; round <= ROUNDS; round++)); do
    ((ROUNDS == 1)) || echo "-- $scn: round $round of $ROUNDS"
    [[ $scn == a ]] && run_dd
    settle
    run_load "$scn" nginx --url "http://127.0.0.1:$NGINX_PORT/up/$scn/" --method PUT --unique-path "$@"
    keep_round "$scn" nginx
    settle
    run_upgate_round "$scn" "$@"
  done
  take_medians "$scn" nginx
  [[ $scn == a ]] && take_medians dd dd
  local meta
  for meta in $META_KINDS; do take_medians "$(meta_key "$scn" "$meta")" upgate; done
}
run_upgate_round() {
  local scn=$1 meta key; shift
  for meta in $META_KINDS; do
    [[ $meta == postgres && $scn != c ]] && continue  # the small-upload scenario only
    key=$(meta_key "$scn" "$meta")
    if [[ $UPGATE_OK == 1 ]] && start_upgate "$key" "$meta"; then
      run_load "$key" upgate --url "http://127.0.0.1:$UPGATE_PORT/v1/files?name=bench-$scn-{id}" --method POST \
        --header "Authorization: Bearer $UPGATE_KEY" --unique-path "$@"
      keep_round "$key" upgate
      stop_upgate
    else
      UPGATE_OK=0
      ERRS[$key,upgate]="not run"
      echo "-- $key / upgate: not run: $UPGATE_WHY"
    fi
    settle
  done
}

# The disk's limit for a durable write: dd of the same size with conv=fsync, from
# a file in RAM (pseudo-random bytes, as the load generator sends), as dd/dd.
run_dd() {
  local src=/dev/shm/upgate-bench-dd-$$ out t
  [[ -f $src ]] || head -c "$SINGLE_SIZE" /dev/urandom >"$src"
  DD_SRC=$src
  sync
  echo "-- dd / conv=fsync"
  out=$(dd if="$src" of="$TMP/dd.bin" bs=1M conv=fsync 2>&1 | tail -n 1)
  rm -f "$TMP/dd.bin"
  echo "   $out"
  t=$(sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' <<<"$out")
  MIBPS[dd,dd]=$(awk -v b="$SINGLE_SIZE" -v t="${t:-0}" 'BEGIN { if (t > 0) printf "%.2f", b / 1048576 / t }')
  [[ -n "${MIBPS[dd,dd]}" ]] || ERRS[dd,dd]="failed"
  keep_round dd dd
}

# keep_round key server: the figures of this round, kept for take_medians.
keep_round() {
  local k="$1,$2" a
  for a in MIBPS RPS P50 P99 CPU_US CLIENT_US; do
    local -n arr=$a
    [[ -n "${arr[$k]:-}" ]] && ROUND_FIGS[$a,$k]+="${arr[$k]} "
  done
  return 0
}
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# take_medians key server: each figure becomes the median of its rounds (all rounds printed).
take_medians() {
  local k="$1,$2" a
  ((ROUNDS > 1)) || return 0
  for a in MIBPS RPS P50 P99 CPU_US CLIENT_US; do
    local -n arr=$a
    [[ -n "${ROUND_FIGS[$a,$k]:-}" ]] && arr[$k]=$(median "${ROUND_FIGS[$a,$k]}")
  done
  echo "-- $1 / $2: rounds MiB/s [${ROUND_FIGS[MIBPS,$k]:-}] req/s [${ROUND_FIGS[RPS,$k]:-}]"
}
# The results key of a scenario on a metadata store: c, c-pg.
meta_key() { [[ $2 == postgres ]] && echo "$1-pg" || echo "$1"; }

# Jodoo: a tenant with a Jodoo app, rate limits raised out of the way.
jodoo_setup() {
  local base="http://127.0.0.1:$UPGATE_PORT" auth="Authorization: Bearer $UPGATE_KEY"
  curl -fsS -o /dev/null -H "$auth" -d '{"id":"bench","settings":{"jodoo":{"rate_limits":{"global":10000000,"get_upload_token":10000000,"upload":10000000}}}}' "$base/v1/admin/tenants" &&
  curl -fsS -o /dev/null -H "$auth" -d '{"id":"crm","dialect":"jodoo","settings":{"entries":{"e1":{"fields":{"f":"upload"}}}}}' "$base/v1/admin/tenants/bench/apps" &&
  JODOO_KEY=$(curl -fsS -H "$auth" -d '{"name":"bench"}' "$base/v1/admin/tenants/bench/keys" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p') &&
  [[ -n "$JODOO_KEY" ]]
}

# Single-use tokens for the form-upload run: `calls` x 100, one per line.
jodoo_tokens() {
  local calls=$1 out=$2 base="http://127.0.0.1:$UPGATE_PORT"
  : >"$out"
  for i in $(seq "$calls"); do
    curl -fsS -H "Authorization: Bearer $JODOO_KEY" \
      -d "{\"app_id\":\"crm\",\"entry_id\":\"e1\",\"transaction_id\":\"bench-tx-$i\"}" \
      "$base/api/v5/app/entry/file/get_upload_token" | grep -o '"token":"[^"]*"' | cut -d'"' -f4 >>"$out" || return 1
  done
}

# ROUNDS alternating rounds, as run_scenario: nginx's PUT rate swings by 5x from
# one round to the next (its first round on a quiet disk is the fastest), so one
# round of each compared upgate with whatever nginx's round happened to be.
run_jodoo() {
  local small=(--size "$SMALL_SIZE" --concurrency "$SMALL_CONNS" --duration "$SMALL_SECONDS")
  local meta round
  for ((round = 1; round <= ROUNDS; round++)); do
    ((ROUNDS == 1)) || echo "-- j: round $round of $ROUNDS"
    settle
    run_load j2 nginx --url "http://127.0.0.1:$NGINX_PORT/up/j2/" --method PUT --unique-path "${small[@]}"
    keep_round j2 nginx
    settle
    for meta in $META_KINDS; do
      run_jodoo_upgate "$meta" "$(meta_key j1 "$meta")" "$(meta_key j2 "$meta")"
      keep_round "$(meta_key j1 "$meta")" upgate
      keep_round "$(meta_key j2 "$meta")" upgate
      settle
    done
  done
  take_medians j2 nginx
  for meta in $META_KINDS; do
    take_medians "$(meta_key j1 "$meta")" upgate
    take_medians "$(meta_key j2 "$meta")" upgate
  done
}

# meta j1-key j2-key: upgate's half of the Jodoo scenarios on one metadata store.
run_jodoo_upgate() {
  local meta=$1 j1=$2 j2=$3
  local small=(--size "$SMALL_SIZE" --concurrency "$SMALL_CONNS" --duration "$SMALL_SECONDS")
  if [[ $UPGATE_OK != 1 ]] || ! start_upgate j "$meta"; then
    UPGATE_OK=0
    ERRS[$j1,upgate]="not run"; ERRS[$j2,upgate]="not run"
    return 0
  fi
  if jodoo_setup; then
    run_load "$j1" upgate --url "http://127.0.0.1:$UPGATE_PORT/api/v5/app/entry/file/get_upload_token" --method POST \
      --header "Authorization: Bearer $JODOO_KEY" --header "Content-Type: application/json" \
      --body '{"app_id":"crm","entry_id":"e1","transaction_id":"bench-{id}"}' \
      --concurrency 16 --duration "$SMALL_SECONDS"
    # Enough tokens for 10k uploads/s (the run stops early if they run out).
    local calls=$(( SMALL_SECONDS * 100 ))
    if jodoo_tokens "$calls" "$TMP/jodoo-tokens"; then
      run_load "$j2" upgate --url "http://127.0.0.1:$UPGATE_PORT/" --method POST \
        --form-tokens "$TMP/jodoo-tokens" "${small[@]}"
    else
      ERRS[$j2,upgate]="token fetch failed"; ANY_ERRORS=1
    fi
  else
    ERRS[$j1,upgate]="setup failed"; ERRS[$j2,upgate]="setup failed"; ANY_ERRORS=1
  fi
  stop_upgate
}

BLOB_KINDS=${BENCH_BLOBS:-local}
DEFAULT_SCENARIOS="a b c j"
[[ " $BLOB_KINDS " == *" s3 "* ]] && DEFAULT_SCENARIOS+=" s"
SCENARIO_LIST=${BENCH_SCENARIOS:-$DEFAULT_SCENARIOS}
SCENARIOS=" $SCENARIO_LIST "
wanted() { [[ "$SCENARIOS" == *" $1 "* ]]; }
if wanted s; then
  [[ " $BLOB_KINDS " == *" s3 "* ]] || die "scenario s needs BENCH_BLOBS with s3 (e.g. BENCH_BLOBS=\"local s3\")"
  start_rgw || die "Ceph RGW did not start (BENCH_BLOBS=s3)"
  echo "== Ceph RGW $(radosgw --version | awk '{print $3}') on $S3_ENDPOINT (bluestore, private), for s"
fi
if [[ " $META_KINDS " == *" postgres "* ]]; then
  start_postgres || die "PostgreSQL did not start (BENCH_META=postgres)"
  echo "== PostgreSQL $(psql -tA "$PG_ADMIN_URL" -c 'SHOW server_version') on 127.0.0.1:$PG_PORT" \
    "(fsync $(psql -tA "$PG_ADMIN_URL" -c 'SHOW fsync'), for c and j)"
fi
echo
# Free space needed: 4x the upload for a (both servers write a temp file, then the final one).
wanted a && run_scenario a $((SINGLE_SIZE * 4)) --size "$SINGLE_SIZE" --concurrency 1 --requests-per-conn 1
wanted b && run_scenario b $((PAR_CONNS * PAR_SIZE * 2 + (1 << 30))) --size "$PAR_SIZE" --concurrency "$PAR_CONNS" --requests-per-conn 1
wanted c && run_scenario c $((1 << 30)) --size "$SMALL_SIZE" --concurrency "$SMALL_CONNS" --duration "$SMALL_SECONDS"
wanted j && run_jodoo
# 1 GiB as a file for curl, twice on the bench's disk for local, and RGW's sparse file.
if wanted s; then
  free=$(( $(df -Pk "$TMP" | awk 'NR==2 {print $4}') * 1024 ))
  if (( free < SINGLE_SIZE * 6 )); then
    echo "-- s: skipped, $((free >> 20)) MiB free in $TMP, need $((SINGLE_SIZE * 6 >> 20)) MiB"
    for k in s1 s2 s3 s4; do ERRS[$k,rgw]="skipped"; done
  else
    run_s3
  fi
fi
wanted t && run_tus
wanted d && run_download
wanted w && run_sweep

# --- report --------------------------------------------------------------------
# cell scenario server metric-array: the figure, or why there is none.
cell() {
  local -n arr=$3
  local key="$1,$2"
  if [[ -n "${ERRS[$key]:-}" ]]; then
    if [[ -n "${arr[$key]:-}" ]]; then echo "${arr[$key]} (${ERRS[$key]})"; else echo "${ERRS[$key]}"; fi
  else
    echo "${arr[$key]:-?}"
  fi
}
ratio() {  # scenario metric-array [nginx's scenario, default the same]
  local -n arr=$2
  local base=${3:-$1}
  local n="${arr[$base,nginx]:-}" u="${arr[$1,upgate]:-}"
  if [[ -z "$n" || -z "$u" || -n "${ERRS[$base,nginx]:-}" || -n "${ERRS[$1,upgate]:-}" ]]; then echo "n/a"; return; fi
  awk -v n="$n" -v u="$u" 'BEGIN { if (n > 0) printf "%.2f", u / n; else print "n/a" }'
}
row() { printf '%-40s | %-20s | %-20s | %s\n' "$@"; }

if wanted a || wanted b || wanted c || wanted j; then
  echo
  echo "== results ($(date -u '+%Y-%m-%d'), $(nproc) CPUs, $MODEL)"
  row "scenario" "nginx" "upgate" "ratio upgate/nginx"
  row "----------------------------------------" "--------------------" "--------------------" "------------------"
  wanted a && row "a) 1 x $SINGLE_LABEL, 1 conn (MiB/s)" "$(cell a nginx MIBPS)" "$(cell a upgate MIBPS)" "$(ratio a MIBPS)"
  wanted a && row "a-dd) a beside dd conv=fsync (the disk)" "$(cell dd dd MIBPS) (dd)" "$(cell a upgate MIBPS)" \
    "$(awk -v d="${MIBPS[dd,dd]:-0}" -v u="${MIBPS[a,upgate]:-0}" 'BEGIN { if (d > 0 && u > 0) printf "%.2f (upgate/dd)", u / d; else print "n/a" }')"
  wanted b && row "b) $PAR_CONNS x $PAR_LABEL, $PAR_CONNS conns (MiB/s)" "$(cell b nginx MIBPS)" "$(cell b upgate MIBPS)" "$(ratio b MIBPS)"
  wanted c && row "c) 4 KiB, $SMALL_CONNS conns, ${SMALL_SECONDS} s (req/s)" "$(cell c nginx RPS)" "$(cell c upgate RPS)" "$(ratio c RPS)"
  wanted j && row "j1) get_upload_token x100, 16 conns (req/s)" "-" "$(cell j1 upgate RPS)" "target >= 5000 req/s"
  wanted j && row "j2) 4 KiB Qiniu form upload, $SMALL_CONNS conns (req/s)" "$(cell j2 nginx RPS) (PUT)" "$(cell j2 upgate RPS)" "$(ratio j2 RPS)"
  if [[ " $META_KINDS " == *" postgres "* ]]; then
    wanted c && row "c-pg) c, metadata on PostgreSQL" "$(cell c nginx RPS)" "$(cell c-pg upgate RPS)" "$(ratio c-pg RPS c)"
    wanted j && row "j1-pg) j1, metadata on PostgreSQL" "-" "$(cell j1-pg upgate RPS)" ""
    wanted j && row "j2-pg) j2, metadata on PostgreSQL" "$(cell j2 nginx RPS) (PUT)" "$(cell j2-pg upgate RPS)" "$(ratio j2-pg RPS j2)"
  fi
  # Every result key of the run, in order: a b c c-pg j1 j1-pg j2 j2-pg.
  KEYS=()
  for s in $(sed 's/\bj\b/j1 j2/; s/\bs\b//' <<<"$SCENARIO_LIST"); do
    KEYS+=("$s")
    [[ " $META_KINDS " == *" postgres "* && $s =~ ^(c|j1|j2)$ ]] && KEYS+=("$s-pg")
  done
  echo
  echo "latency p50 / p99 (ms, request start to full response):"
  for s in "${KEYS[@]}"; do
    row "  $s" "${P50[${s%-pg},nginx]:-?} / ${P99[${s%-pg},nginx]:-?}" "${P50[$s,upgate]:-?} / ${P99[$s,upgate]:-?}" ""
  done
  echo
  echo "CPU per request (µs, user + system, from /proc/<pid>/stat; the load generator's beside"
  echo "each, as it shares the CPUs):"
  for s in "${KEYS[@]}"; do
    row "  $s" "${CPU_US[${s%-pg},nginx]:-?} (load ${CLIENT_US[${s%-pg},nginx]:-?})" \
      "${CPU_US[$s,upgate]:-?} (load ${CLIENT_US[$s,upgate]:-?})" "$(ratio "$s" CPU_US "${s%-pg}")"
  done
  if (wanted a || wanted b) && command -v openssl >/dev/null; then
    # Every upload is hashed (its SHA-256 is part of the API), on one thread per upload: the
    # floor under upgate's CPU for the large scenarios, which nginx does not pay.
    sha=$(openssl speed -evp sha256 -bytes 262144 -seconds 1 2>/dev/null | awk '/^sha256/ { print $NF }')
    [[ -n "$sha" ]] && echo "SHA-256, one stream (openssl speed, 256 KiB blocks): ${sha%k} kB/s:" \
      "$(awk -v k="${sha%k}" 'BEGIN { printf "%.0f ms of CPU per 64 MiB", 67108864 / (k * 1000) * 1000 }')"
  fi
  echo
  echo "upgate context switches per request (all threads, from /proc/<pid>/task/*/status):"
  for s in "${KEYS[@]}"; do
    row "  $s" "" "${CSW[$s]:-?}" ""
  done
  if [[ " $META_KINDS " == *" postgres "* ]]; then
    echo
    echo "PostgreSQL per request (CPU of all its processes, µs | WAL bytes, from pg_current_wal_lsn):"
    for s in "${KEYS[@]}"; do
      if [[ $s == *-pg ]]; then row "  $s" "" "${PG_US[$s]:-?} | ${PG_WAL[$s]:-?}" ""; fi
    done
  fi
  echo
  echo "MiB/s = 2^20 bytes per second of request body. Each figure is the median of $ROUNDS"
  echo "alternating round(s) (every round's figures are in the log above)."
  echo "Note: upgate fsyncs each upload before answering (durability); nginx does not,"
  echo "so nginx's figures include no durability cost. Both write to $FS_INFO."
  echo "nginx: 2 worker processes; the load generator shares the same $(nproc) CPUs."
fi
wanted s && s3_report
wanted t && print_tus
wanted d && print_download
wanted w && print_sweep

if [[ $UPGATE_OK != 1 ]]; then
  echo
  echo "bench: upgate half FAILED: $UPGATE_WHY" >&2
  if [[ -n "$UPGATE_LOG_TAIL" ]]; then
    echo "last lines of upgate's output:" >&2
    sed 's/^/  /' <<<"$UPGATE_LOG_TAIL" >&2
  fi
  exit 1
fi
if [[ $ANY_ERRORS == 1 ]]; then
  echo "bench: some runs had errors (see above)" >&2
  exit 1
fi
