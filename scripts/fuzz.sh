#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DUP_FUZZ=ON, own build dir) and runs each
# for FUZZ_SECONDS, FUZZ_JOBS at a time (default: one per CPU), from a scratch
# copy of its seed corpus in fuzz/corpus/<target> (nothing is ever written into
# the repo). Prints the executions and execs/s of each target; exits non-zero
# if any target crashed, leaked, hit a sanitizer report or a FUZZ_CHECK, or
# timed out on one input.
#
#   FUZZ_SECONDS=60        time per target
#   FUZZ_TARGETS="..."     which targets (default: all in fuzz/corpus)
#   FUZZ_DIR=build-fuzz    CMake build dir
#   FUZZ_OUT=<FUZZ_DIR>/runs   where crash inputs and logs go (outside the repo tree's sources)
#   FUZZ_ARGS="..."        extra libFuzzer flags
#   FUZZ_JOBS=N            targets fuzzed at once (default: nproc)
# CI: FUZZ_SECONDS=30 bash scripts/fuzz.sh        (see docs/fuzzing.md)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
FUZZ_OUT=${FUZZ_OUT:-$FUZZ_DIR/runs}
FUZZ_ARGS=${FUZZ_ARGS:-}
if [ -z "${FUZZ_TARGETS:-}" ]; then
  FUZZ_TARGETS=$(cd fuzz/corpus && ls -d -- */ | tr -d /)
fi

CXX_FOR_FUZZ=${CXX_FOR_FUZZ:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$CXX_FOR_FUZZ" ] || { echo "fuzz: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
  cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_CXX_COMPILER="$CXX_FOR_FUZZ" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUP_FUZZ=ON >/dev/null
fi
cmake --build "$FUZZ_DIR" -j "${JOBS:-$(nproc)}"

mkdir -p "$FUZZ_OUT"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/upgate-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# One target: fuzzes it, then writes its summary line to $scratch/<t>.line and,
# if it failed, its name to $scratch/<t>.failed.
fuzz_target() {
  local t=$1 bin="$FUZZ_DIR/fuzz/${1}_fuzz"
  if [ ! -x "$bin" ]; then
    echo "fuzz: no binary $bin" >&2
    echo "$t(no binary)" >"$scratch/$t.failed"
    return
  fi
  local corpus="$scratch/$t" log="$FUZZ_OUT/$t/last.log" rc=0
  mkdir -p "$corpus" "$FUZZ_OUT/$t"
  cp -- fuzz/corpus/"$t"/* "$corpus"/
  local seeds
  seeds=$(ls "$corpus" | wc -l)
  echo "== $t: ${FUZZ_SECONDS}s from $seeds seeds (log: $log)"
  # -timeout: one input taking over 30 s is a hang, reported as a failure. (Inputs run in
  # milliseconds; a run here once saw a 14 s stall of this VM on an input that runs in 8 ms.)
  # shellcheck disable=SC2086
  "$bin" "$corpus" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=30 \
    -artifact_prefix="$FUZZ_OUT/$t/" $FUZZ_ARGS >"$log" 2>&1 || rc=$?
  local execs rate cov found line
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  found=$(ls "$corpus" | wc -l)
  line=$(printf '%-14s %12s execs %8s execs/s  %s  corpus %s -> %s  %s' "$t" "${execs:-?}" \
    "${rate:-?}" "${FUZZ_SECONDS}s" "$seeds" "$found" "${cov:-}")
  if [ "$rc" -ne 0 ]; then
    line+="  FAILED (exit $rc)"
    echo "$t" >"$scratch/$t.failed"
    {
      echo "---- $t failed; end of $log:"
      tail -n 60 "$log"
      ls "$FUZZ_OUT/$t"/crash-* "$FUZZ_OUT/$t"/leak-* "$FUZZ_OUT/$t"/timeout-* "$FUZZ_OUT/$t"/oom-* 2>/dev/null || true
    } >&2
  fi
  echo "$line"
  echo "$line" >"$scratch/$t.line"
}

# FUZZ_JOBS targets at a time (default: one per CPU; each target is one process).
running=0
for t in $FUZZ_TARGETS; do
  if [ "$running" -ge "${FUZZ_JOBS:-$(nproc)}" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_target "$t" &
  running=$((running + 1))
done
wait

summary=()
failed=()
for t in $FUZZ_TARGETS; do
  [ -f "$scratch/$t.line" ] && summary+=("$(cat "$scratch/$t.line")")
  [ -f "$scratch/$t.failed" ] && failed+=("$(cat "$scratch/$t.failed")")
done

echo "== fuzz summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $("$CXX_FOR_FUZZ" --version | head -1))"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproduce: $FUZZ_DIR/fuzz/<target>_fuzz <crash file>)" >&2
  exit 1
fi
