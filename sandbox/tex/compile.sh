#!/usr/bin/env bash
# Compiles an untrusted LaTeX paper inside the TeX container (trusted; mounted read-only by
# sandbox/tex.py at /hf/tools/compile.sh). Usage: compile.sh MAIN STEP_SECONDS
#   MAIN          the main file in /hf/paper (read-only), e.g. paper.tex
#   STEP_SECONDS  each step's time limit (timeout; the host's wall clock bounds the whole job)
# It works on a copy in /tmp/build (a sized tmpfs), runs pdflatex, bibtex (when the .aux names a
# \bibdata), pdflatex twice more, then chktex and pdfinfo, and copies the results, each cut to a
# bounded size, to /hf/out. The exit status says which step failed (sandbox/tex.py reads it):
#   0 ok; 2 bad arguments; 3 the paper could not be copied; 10+N step N failed; 20+N step N
#   timed out (steps: 1 pdflatex, 2 bibtex, 3 pdflatex, 4 pdflatex); 30 no PDF was produced.
set -u
main=${1:-}
step=${2:-}
[[ $main =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*\.tex$ && $step =~ ^[0-9]+$ ]] || exit 2
base=${main%.tex}
out=/hf/out
work=/tmp/build
checks=/tmp/checks  # outside the working copy: the document cannot write there (openout_any = p)
cap=$((2 * 1024 * 1024))  # the most of any text file that is copied out

collect() {  # whatever exists, bounded, to /hf/out
    local f
    for f in "$work/$base.log" "$work/$base.blg" "$checks/chktex.txt" "$checks/pdfinfo.txt"; do
        [ -f "$f" ] && head -c "$cap" "$f" >"$out/${f##*/}"
    done
    [ -f "$work/$base.pdf" ] && cp "$work/$base.pdf" "$out/$base.pdf"
    return 0
}

run() {  # run STEP_NUMBER COMMAND...: the step under its time limit; exits on failure
    local n=$1 rc
    shift
    timeout -k 2 "$step" "$@" </dev/null >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        collect
        exit $((20 + n))
    fi
    # bibtex exits 1 on warnings (an empty field); 2 and 3 are errors.
    if [ "$rc" -ne 0 ] && { [ "$n" -ne 2 ] || [ "$rc" -ge 2 ]; }; then
        collect
        exit $((10 + n))
    fi
}

mkdir -p "$work" "$checks" && cp -r /hf/paper/. "$work/" && cd "$work" || exit 3
latex=(pdflatex -no-shell-escape -interaction=nonstopmode -halt-on-error -file-line-error "$main")
run 1 "${latex[@]}"
if grep -qs '\\bibdata' "$base.aux"; then
    run 2 bibtex "$base"
fi
run 3 "${latex[@]}"
run 4 "${latex[@]}"
# Checks of a compiled paper: their failure is reported through their (missing) files.
timeout -k 2 "$step" chktex -q -I0 -f $'%l:%c:%n:%m\n' "$main" </dev/null >"$checks/chktex.txt" 2>/dev/null
timeout -k 2 "$step" pdfinfo "$base.pdf" </dev/null >"$checks/pdfinfo.txt" 2>/dev/null
collect
[ -f "$base.pdf" ] || exit 30
exit 0
