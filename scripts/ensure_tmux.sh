#!/usr/bin/env bash
# Makes sure tmux is installed (Debian's package): the end-to-end test of `hypoforge chat` drives
# the real terminal UI through it. Idempotent.
set -euo pipefail
command -v tmux >/dev/null 2>&1 && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "tmux missing: installing Debian's tmux"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
