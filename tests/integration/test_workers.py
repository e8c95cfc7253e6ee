"""Several sandbox workers on the real engine: containers of one campaign run side by side, the
ledger is the one a single worker writes, and a kill -9 with containers in flight loses no
finished result and leaves no container behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from core.settings import CampaignSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from hypoforge.campaign import CampaignInfo
from sandbox import reaper
from sandbox.docker_sandbox import DockerSandbox
from store.ledger import Ledger

CHILD = Path(__file__).with_name("campaign_child.py")
ROOT = Path(__file__).resolve().parents[2]
SPLITS = [datasets.split("iris", 0), datasets.split("moons", 0)]
EXPRESSIONS = [f"x * torch.sigmoid({k / 4:.2f} * x)" for k in range(1, 5)]


class Timed(DockerSandbox):
    """The real sandbox, noting when each job ran (host clock, around the container's life)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spans: list[tuple[float, float]] = []
        self._spans_lock = threading.Lock()

    def run(self, job):
        began = time.monotonic()
        result = super().run(job)
        if not job.key.startswith("b"):  # the baselines' job runs once per home, not per run
            with self._spans_lock:
                self.spans.append((began, time.monotonic()))
        return result


def _overlaps(spans: list[tuple[float, float]]) -> int:
    """Pairs of jobs that ran at the same time."""
    return sum(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :])


def _models() -> dict:
    replies = [
        f"IDEA: gate {i}\n```python\nimport torch\n\ndef activation(x):\n    return {e}\n```"
        for i, e in enumerate(EXPRESSIONS)
    ]
    run = '{"decision": "run", "reasons": "ok", "p_win": 0.5}'
    return {
        "proposer": FakeListChatModel(responses=replies),
        "critic": FakeListChatModel(responses=[run]),
        "coder": FakeListChatModel(responses=[replies[0]]),
        "analyst": FakeListChatModel(responses=["Summary."]),
    }


def _campaign(settings, folder: Path, workers: int) -> tuple[list[dict], list, Timed]:
    sandbox = Timed(settings.sandbox, workers=workers)
    sandbox.preflight()
    ev = ActivationEvaluator(
        sandbox, settings.home, settings.sandbox.limits, splits=SPLITS, wall_seconds=60
    )
    # One campaign id for both runs, so that every row and key can be compared.
    budgets = CampaignSettings(proposals=4, batch=4, screen_top_k=4, promote=(2,), full_top_k=0)
    folder.mkdir(parents=True)
    info = CampaignInfo(id="c0ffee000001", task="activation", budgets=budgets)
    (folder / "campaign.json").write_text(info.model_dump_json())
    try:
        campaign.run(folder, campaign.Services(ev, _models(), retries=0, workers=workers))
    finally:
        sandbox.close()
    ledger = Ledger(folder / "ledger.sqlite")
    rows = [r.model_dump() for r in ledger.hypotheses(info.id)]
    results = sorted((k, h, r.status, r.win_rate) for k, h, r in ledger.results(info.id))
    ledger.close()
    return rows, results, sandbox


def test_two_workers_run_containers_side_by_side_and_write_the_same_ledger(settings, tmp_path):
    rows1, results1, one = _campaign(settings, tmp_path / "one", workers=1)
    rows2, results2, two = _campaign(settings, tmp_path / "two", workers=2)
    assert _overlaps(one.spans) == 0
    assert _overlaps(two.spans) >= 2  # the probes and the screenings, two at a time
    # the catalogue's published components (one job), 4 probes + 4 screenings, each once
    assert len(two.spans) == len(one.spans) == 9
    assert rows2 == rows1
    assert results2 == results1
    assert {r["stage"] for r in rows2} == {"screened"}
    assert _orphans(two.client) == []


def _orphans(client) -> list[str]:
    """hypoforge containers whose owner process is gone."""
    found = reaper.listed(client, label=f"{reaper.MANAGED_LABEL}=1")
    return [c.name for c in found if not reaper.owner_alive(c.labels.get(reaper.OWNER_LABEL, ""))]


def _in_flight(ledger: Ledger, cid: str, folder: Path) -> tuple[int, int]:
    """(finished, in flight) sandbox jobs of the campaign, from the ledger: a launch is counted
    when its job starts, a probe or result written when it ends (the catalogue's one job: its
    cache file)."""
    _, launches = ledger.usage(cid)
    finished = int((folder / "catalogue" / "activation.json").exists()) + sum(
        ledger.db.execute(f"SELECT COUNT(*) FROM {table} WHERE campaign = ?", (cid,)).fetchone()[0]
        for table in ("results", "probes")
    )
    return finished, launches - finished


def test_kill_9_with_containers_in_flight_loses_nothing(docker_sandbox, settings, tmp_path):
    folder = tmp_path / "crash"
    budgets = CampaignSettings(proposals=8, batch=4, screen_top_k=4, full_top_k=0)
    info = campaign.create(folder, "activation", budgets)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ledger = Ledger(folder / "ledger.sqlite")
    client = docker_sandbox.client
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(folder), str(settings.home), "2"], env=env
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        # Kill once screening has recorded a result and two containers run jobs.
        if ledger.results(info.id) and _in_flight(ledger, info.id, folder)[1] >= 2:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the campaign ended before two containers ran at once"
    before = {k for k, _, _ in ledger.results(info.id)}
    child.send_signal(signal.SIGKILL)
    child.wait()
    after = {k for k, _, _ in ledger.results(info.id)}
    assert before <= after  # nothing finished was lost
    final = subprocess.run(
        [sys.executable, str(CHILD), str(folder), str(settings.home), "2"], env=env, timeout=600
    )
    assert final.returncode == 0
    rows = ledger.hypotheses(info.id)
    assert len(rows) == 8
    assert all(r.stage in ("screened", "rejected") for r in rows), [r.stage for r in rows]
    assert after <= {k for k, _, _ in ledger.results(info.id)}
    assert _orphans(client) == []  # the resumed process reaped the killed one's containers
