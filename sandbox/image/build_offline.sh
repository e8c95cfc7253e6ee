#!/usr/bin/env bash
# Builds the sandbox image with no container registry: a minimal Debian root file system from
# Debian's package mirror (debootstrap), the pinned Python packages installed into it from the
# local pip index, then `docker import`. Usage: build_offline.sh TAG PYTHON
#   TAG     the image tag to create (content hash of this recipe, chosen by sandbox/build.py)
#   PYTHON  a CPython 3.11 whose pip installs the wheels (the project's venv)
set -euo pipefail
tag=$1
python=$2
here=$(cd "$(dirname "$0")" && pwd)
mirror=${HYPOFORGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm   # its python3 is 3.11, the ABI of the pinned wheels

if ! command -v debootstrap >/dev/null; then
    echo "installing debootstrap from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hypoforge-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

echo "[1/4] debootstrap $suite (minbase + python3)"
debootstrap --variant=minbase --include=python3 "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }

echo "[2/4] installing $(grep -v '^#' "$here/requirements.txt" | xargs) into the image"
site=$root/usr/local/lib/python3.11/dist-packages
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --target "$site" \
    -r "$here/requirements.txt" 2>&1 | grep -v "is ignored: it is neither" || true
"$python" -c "import sys; sys.path.insert(0, '$site'); import torch, numpy" \
    || { echo "torch/numpy did not install into the image"; exit 1; }

echo "[3/4] trimming and compiling bytecode"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
    "$root"/usr/share/man "$root"/usr/share/locale "$site"/torch/include "$site"/*/tests
mkdir -p "$root/hf"
# Jobs run with a read-only root, so Python can never cache bytecode at run time: compile it here
# or every job recompiles torch on import (about 2 s each). The venv's CPython 3.11 writes the same
# bytecode format as the image's; -d records the paths as the image sees them. A few files that are
# templates rather than Python fail to compile; torch itself must not.
"$python" -m compileall -q -j 0 -d /usr/local/lib/python3.11/dist-packages "$site" >/dev/null || true
[ -f "$site/torch/__pycache__/__init__.cpython-311.pyc" ] \
    || { echo "compiling torch's bytecode failed"; exit 1; }

echo "[4/4] docker import -> $tag"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/tmp' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'USER 65534:65534' \
    --change 'WORKDIR /tmp' \
    --change "LABEL hypoforge.recipe=$tag" \
    - "$tag" >/dev/null
echo "built $tag"
