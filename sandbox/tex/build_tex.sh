#!/usr/bin/env bash
# Builds the TeX image with no container registry: a minimal Debian root file system with Debian's
# TeX Live packages (pdflatex, bibtex, chktex, poppler-utils), hardened by texmf-hardening.cnf, then
# `docker import`. Usage: build_tex.sh TAG   (TAG: content hash of this recipe, from sandbox/tex.py)
set -euo pipefail
tag=$1
here=$(cd "$(dirname "$0")" && pwd)
mirror=${HYPOFORGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern
    chktex poppler-utils)
SECONDS=0

if ! command -v debootstrap >/dev/null; then
    echo "installing debootstrap from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hypoforge-tex.XXXXXX")
root=$work/rootfs
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "[1/4] debootstrap $suite (minbase)"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }

echo "[2/4] apt-get install ${packages[*]}"
# Documentation, manuals and translations are never unpacked.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-hypoforge-nodoc" <<'CFG'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/texlive/texmf-dist/doc/*
path-exclude=/usr/share/texmf/doc/*
CFG
mount -t proc proc "$root/proc"
chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; exit 1; }
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >>"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; exit 1; }

echo "[3/4] hardening kpathsea and trimming"
# Every texmf.cnf loses its own definitions of the hardened variables; the first one kpathsea
# reads gets ours, so no other file can override them.
chroot "$root" kpsewhich -all texmf.cnf >"$work/cnfs"
keys='openin_any|openout_any|shell_escape|MKTEXTEX|MKTEXPK|MKTEXMF|MKTEXTFM|MKOCP|MKOFM'
while read -r cnf; do
    real=$(chroot "$root" readlink -f "$cnf")
    sed -i -E "/^[[:space:]]*($keys)[[:space:]]*(\.[^=]*)?=/d" "$root$real"
done <"$work/cnfs"
first=$(chroot "$root" readlink -f "$(head -1 "$work/cnfs")")
cat "$here/texmf-hardening.cnf" "$root$first" >"$work/texmf.cnf"
cat "$work/texmf.cnf" >"$root$first"
for var in openin_any openout_any shell_escape; do
    echo "  $var = $(chroot "$root" kpsewhich -var-value "$var")"
done
[ "$(chroot "$root" kpsewhich -var-value openin_any)" = p ] \
    && [ "$(chroot "$root" kpsewhich -var-value openout_any)" = p ] \
    && [ "$(chroot "$root" kpsewhich -var-value shell_escape)" = f ] \
    || { echo "the kpathsea hardening did not take effect"; exit 1; }
umount "$root/proc"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
    "$root"/usr/share/man "$root"/usr/share/info "$root"/usr/share/locale \
    "$root"/var/cache/debconf/*-old "$root"/var/log/*
# Only pdflatex runs here: the LuaTeX formats (about 27 MB) go.
rm -rf "$root"/var/lib/texmf/web2c/luatex "$root"/var/lib/texmf/web2c/luahbtex
mkdir -p "$root/hf"

echo "[4/4] docker import -> $tag"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/tmp' \
    --change 'USER 65534:65534' \
    --change 'WORKDIR /tmp' \
    --change "LABEL hypoforge.recipe=$tag" \
    - "$tag" >/dev/null
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "built $tag in ${SECONDS} s, $((size / 1000000)) MB"
