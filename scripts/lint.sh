#!/usr/bin/env bash
# The lint gate (docs/quality.md): clang-format-14 and clang-tidy-14 over the
# C++ sources; any finding fails.
#
#   scripts/lint.sh                  both checks over every tracked source
#   scripts/lint.sh format [FILE...] formatting only (--dry-run -Werror)
#   scripts/lint.sh tidy [FILE...]   clang-tidy only, over $BUILD_DIR/compile_commands.json
#   scripts/lint.sh fix [FILE...]    rewrite files in place with clang-format
#
# FILE defaults to every tracked *.cc/*.h. tidy runs on the .cc files of the
# compilation database (headers are checked where they are included, see
# HeaderFilterRegex in .clang-tidy), JOBS at a time, skipping units whose
# cached result is clean (scripts/tidy.py; LINT_NO_CACHE=1 turns that off).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy-14}

mode=${1:-all}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cc' '*.h')
fi

check_format() {
  echo "lint: clang-format on ${#files[@]} files"
  "$CLANG_FORMAT" --dry-run -Werror "${files[@]}"
}

check_tidy() {
  local db="$BUILD_DIR/compile_commands.json"
  if [ ! -f "$db" ]; then
    echo "lint: $db is missing; run 'make configure' first" >&2
    return 1
  fi
  # Units already clean with the same key are skipped (scripts/tidy.py).
  CLANG_TIDY="$CLANG_TIDY" python3 scripts/tidy.py "$BUILD_DIR" "$JOBS" "${files[@]}"
}

case "$mode" in
  # Not `check_format && check_tidy`: set -e ignores a failure left of &&.
  all) failed=0; check_format || failed=1; check_tidy || failed=1; [ "$failed" = 0 ] || exit 1 ;;
  format) check_format ;;
  tidy) check_tidy ;;
  fix) exec "$CLANG_FORMAT" -i "${files[@]}" ;;
  *) echo "usage: $0 [all|format|tidy|fix] [FILE...]" >&2; exit 2 ;;
esac
echo "lint: clean"
