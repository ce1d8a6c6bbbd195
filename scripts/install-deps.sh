#!/usr/bin/env bash
# Installs the Debian packages upgate needs, only those missing (idempotent).
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
      libexpected-dev libssl-dev zlib1g-dev libsqlite3-dev libpq-dev libcli11-dev
      libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev curl jq openssl nginx-light wrk
      clang libclang-rt-14-dev clang-format-14 clang-tidy-14 python3 iproute2)
# The browser compat tests (tests/compat/browser) drive Debian's Chromium.
pkgs+=(chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts nginx on install; upgate only uses it as a benchmark baseline it starts itself.
if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO pkill -x nginx || true
fi
