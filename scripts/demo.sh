#!/usr/bin/env bash
# A short real run: the sandbox self-test, then a small campaign with the embedded LLM (no key,
# no network): two proposals, screened in the sandbox, the best one evaluated at the full budget.
set -euo pipefail
hf=.venv/bin/hypoforge
folder=${HYPOFORGE_DEMO_DIR:-demo-campaign}
$hf sandbox check
echo
if [ -f "$folder/campaign.json" ]; then
    echo "== resuming the demo campaign in $folder (remove it for a fresh one)"
    $hf resume "$folder"
else
    echo "== hypoforge run --task activation --proposals 2 --batch 2 --campaign $folder"
    $hf run --task activation --proposals 2 --batch 2 --campaign "$folder"
fi
$hf status "$folder"
$hf report "$folder"
