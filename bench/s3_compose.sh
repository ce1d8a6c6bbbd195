#!/usr/bin/env bash
# bench/s3_compose.sh — issue 16: a resumable upload's pieces joined inside S3 (compose,
# UploadPartCopy) against reading and writing them through upgate, alternating rounds, on a
# private one-node RGW (bluestore in a sparse file under $TMPDIR, free ports, deleted on exit;
# the tests' RGW on 7480 is never touched). Prints bench/s3_compose_bench's lines: per round
# the wall time, MiB/s, and the CPU time of upgate's side and of the engine (radosgw + OSD).
#
#   bash bench/s3_compose.sh [PIECES [PIECE_MIB [ROUNDS]]]   # default 128 x 8 MiB, 2 rounds
#   BUILD_DIR=dir (default build), BENCH_SKIP_BUILD=1
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SERVICES=$(cd "$ROOT/../shared/services" && pwd)
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port" >&2; return 1
}
[[ -n "${BENCH_SKIP_BUILD:-}" ]] || cmake --build "$BUILD_DIR" --target s3_compose_bench >&2
export S3_PORT; S3_PORT=$(free_port)
export S3_MON_PORT; S3_MON_PORT=$(free_port)
export S3_DIR="${TMPDIR:-/tmp}/upgate-bench-compose-$$"
cleanup() {
  bash "$SERVICES/s3-down.sh" >/dev/null 2>&1 || true
  rm -rf "$S3_DIR" "$S3_DIR.lock"
}
trap cleanup EXIT
eval "$(S3_STORE=bluestore S3_CAPACITY_GB=${BENCH_S3_CAPACITY_GB:-12} bash "$SERVICES/s3-up.sh")"
curl -sS -o /dev/null --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$S3_ENDPOINT/compose-bench"
BENCH_ENGINE_PIDS="$(cat "$S3_DIR"/run/*.pid | tr '\n' ' ')" \
  "$BUILD_DIR/s3_compose_bench" compose-bench "$@"
