#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the dashboard's browser test drives it headless over
# the DevTools protocol (tests/cdp.py). Nothing downloads a browser at run time. Idempotent.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "chromium missing: installing Debian's chromium"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
