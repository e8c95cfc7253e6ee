#!/usr/bin/env bash
# A short real run: the sandbox self-test, then a small campaign with the embedded LLM (no key,
# no network): ELU from the task's catalogue screened as a labelled reference point beside two
# proposals over two rounds (a new one that screens well goes up the ladder to the full
# budget); then the report with its plots and the paper (the TeX image is built on first use).
# Whatever the small model writes, the reference gives the leaderboard a scored row, the report
# its curves and the paper a measured comparison; it is never called a discovery.
set -euo pipefail
hf=.venv/bin/hypoforge
folder=${HYPOFORGE_DEMO_DIR:-demo-campaign}
SECONDS=0
$hf sandbox check
echo
if [ -f "$folder/campaign.json" ]; then
    echo "== resuming the demo campaign in $folder (remove it for a fresh one)"
    $hf resume "$folder"
else
    echo "== hypoforge run --task activation --reference ELU --proposals 3 --batch 2 --campaign $folder"
    $hf run --task activation --reference ELU --proposals 3 --batch 2 --campaign "$folder"
fi
echo
echo "== hypoforge report $folder"
$hf report "$folder"
echo
echo "== hypoforge paper $folder"
# Exit 1 means the body is over the page limit; the PDF is written all the same.
$hf paper "$folder" || [ $? -eq 1 ]
echo
echo "== the leaderboard (hypoforge status $folder), after $((SECONDS / 60)) min $((SECONDS % 60)) s"
$hf status "$folder"
echo "report: $folder/report/report.md"
echo "paper:  $folder/paper/paper.pdf"
echo
printf 'see it in a browser: %s serve %q  (then open http://127.0.0.1:8765)\n' "$hf" "$folder"
