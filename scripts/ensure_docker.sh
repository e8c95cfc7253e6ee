#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io if no engine is installed, and
# starts dockerd only when it is not running. Idempotent: does nothing when `docker info` works.
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v dockerd >/dev/null 2>&1; then
    echo "no Docker engine installed: installing Debian's docker.io"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "starting dockerd (log: /var/log/hypoforge-dockerd.log)"
    # Log rotation by default: a job's output can never fill the Docker root with logs.
    as_root setsid dockerd --log-opt max-size=10m --log-opt max-file=2 \
        >/var/log/hypoforge-dockerd.log 2>&1 < /dev/null &
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "the Docker engine did not answer within 60 s; see /var/log/hypoforge-dockerd.log" >&2
exit 1
