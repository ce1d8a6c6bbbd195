#!/usr/bin/env bash
# Runs README.md as a newcomer would: every ```sh block, in order, in one shell,
# against one fresh `upgate serve` (what `make run` starts), and fails on the
# first command that fails. Blocks that are not meant to run (make, a second
# server) use another fence (```console, ```js).
#
# usage: run_readme.sh README.md path/to/upgate
# The server listens on an ephemeral port and has a known bootstrap key; the
# blocks' http://127.0.0.1:8080 and `KEY=upk_...` are replaced by those. The
# blocks run in a scratch folder holding build/upgate (a link to the binary)
# with UPGATE_DATA set, so `build/upgate ...` works on the server's data.
set -euo pipefail

readme=$(realpath "$1")
bin=$(realpath "$2")
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "run_readme: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/upgate-readme-XXXXXX)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/build"
ln -s "$bin" "$work/build/upgate"
export UPGATE_DATA="$work/data"
key=upk_readme_test_bootstrap_key_0123456789
"$bin" serve --listen 127.0.0.1:0 --bootstrap-key "$key" >"$work/server.log" 2>&1 &
server=$!
url=
for _ in $(seq 1 250); do
  url=$(grep -o -m1 'listening on http://127\.0\.0\.1:[0-9]*' "$work/server.log" | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.02
done
if [ -z "$url" ]; then
  echo "run_readme: the server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

# One file per ```sh block, named after its first line in README.md.
awk -v dir="$work" '
  /^```sh[[:space:]]*$/ { n++; file = sprintf("%s/block-%03d-line-%d.sh", dir, n, NR + 1); next }
  /^```/ && file != "" { close(file); file = ""; next }
  file != "" { print > file }
' "$readme"
blocks=("$work"/block-*.sh)
[ -e "${blocks[0]}" ] || { echo "run_readme: no sh blocks in $readme" >&2; exit 1; }

{
  echo 'set -Eeuo pipefail'
  # -s in the README hides failures; here an HTTP error fails the command.
  echo 'curl() { command curl --fail-with-body --show-error --no-progress-meter "$@"; }'
  echo "cd '$work'"
  for b in "${blocks[@]}"; do
    line=${b##*-line-}
    line=${line%.sh}
    echo "echo '=== README.md line $line' >&2"
    echo "trap 'echo \"run_readme: a command of the block at README.md line $line failed\" >&2' ERR"
    sed -e "s#http://127\.0\.0\.1:8080#$url#g" -e "s#^KEY=upk_\.\.\.#KEY=$key#" "$b"
    # A block ends at its closing fence even when its last line continues.
    echo
  done
  echo "echo 'run_readme: ${#blocks[@]} blocks ran' >&2"
} >"$work/readme.sh"

if ! bash "$work/readme.sh"; then
  echo "--- server output:" >&2
  tail -n 30 "$work/server.log" >&2
  exit 1
fi
