"""kill -9 a campaign process at random moments, N times, resuming after each; print the
invariants: finished results lost (goal 0), extra sandbox launches per kill (goal <= 1), orphan
containers left (goal 0). The campaign uses the real sandbox, SqliteSaver and ledger, with
scripted proposals (tests/integration/campaign_child.py).

Run: .venv/bin/python benchmarks/crash_resume.py [KILLS] [PROPOSALS]
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

from core.settings import CampaignSettings, load_settings
from hypoforge import campaign
from sandbox import reaper
from sandbox.docker_sandbox import DockerSandbox
from store.ledger import Ledger

CHILD = ROOT / "tests" / "integration" / "campaign_child.py"


def main(kills_wanted: int, proposals: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="hf-crash-"))
    folder, home = work / "campaign", work / "home"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=proposals, batch=2, full_top_k=0)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(CHILD), str(folder), str(home)]
    rng = random.Random(7)
    ledger = Ledger(folder / "ledger.sqlite")
    kills = lost = 0
    start = time.monotonic()
    while kills < kills_wanted:
        before = {k for k, _, _ in ledger.results(info.id)}
        child = subprocess.Popen(cmd, env=env)
        time.sleep(rng.uniform(1.0, 8.0))
        if child.poll() is not None:
            break
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills += 1
        lost += len(before - {k for k, _, _ in ledger.results(info.id)})
    subprocess.run(cmd, env=env, check=True)
    results = ledger.results(info.id)
    _, launches = ledger.usage(info.id)
    client = DockerSandbox(load_settings(env={"HYPOFORGE_HOME": str(home)}).sandbox).client
    orphans = reaper.listed(client, label=f"{reaper.MANAGED_LABEL}=1")
    print(
        f"kills {kills}, experiments finished {len(results)}, launches {launches}, "
        f"{time.monotonic() - start:.0f} s"
    )
    print(f"finished results lost: {lost} (goal 0)")
    print(f"extra launches per kill: {(launches - len(results)) / max(kills, 1):.2f} (goal <= 1)")
    print(f"orphan containers: {len(orphans)} (goal 0)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [20, 12][len(args) :]))
