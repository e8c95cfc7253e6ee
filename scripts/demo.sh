#!/usr/bin/env bash
# A short real run: the sandbox self-test, then three example hypotheses through the evaluator.
set -euo pipefail
hf=.venv/bin/hypoforge
$hf sandbox check
for f in examples/relu.py examples/swish_like.py examples/zero.py examples/broken.py; do
    echo
    echo "== hypoforge eval $f"
    $hf eval "$f"
done
