#!/usr/bin/env bash
# Installs the vendors' client libraries for the compatibility tests
# (tests/compat/package-lock.json) when they are missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/../tests/compat"
if ! command -v npm >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1)
[ "$(cat node_modules/.upgate-lock-sha256 2>/dev/null)" = "$want" ] && exit 0
echo "installing the compatibility tests' npm packages" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > node_modules/.upgate-lock-sha256
