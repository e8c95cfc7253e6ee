"""Campaigns on the real pieces: the embedded LLM server, the Docker sandbox, SqliteSaver."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.llm import make_chat_model
from agents.prompting import grammar
from core.settings import CampaignSettings, LLMSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from hypoforge.campaign import ROLES
from hypoforge.llm_server import embedded_server
from hypoforge.report import write_report
from sandbox import reaper
from store.ledger import Ledger

CHILD = Path(__file__).with_name("campaign_child.py")
ROOT = Path(__file__).resolve().parents[2]


def test_short_campaign_with_the_embedded_llm(docker_sandbox, settings, tmp_path):
    folder = tmp_path / "camp"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=2, batch=2, full_top_k=1)
    )
    splits = [datasets.split("iris", 0), datasets.split("wine", 0)]
    held_out = [datasets.split("iris", 3), datasets.split("checkerboard", 3)]
    ev = ActivationEvaluator(
        docker_sandbox,
        settings.home,
        settings.sandbox.limits,
        splits=splits,
        confirm_splits=held_out,
        wall_seconds=60,
    )
    llm = LLMSettings()
    grammars = {**ev.grammars(), "critic": grammar("verdict")}
    with embedded_server(llm.model, log=folder / "llm.log") as url:
        models = {r: make_chat_model(llm, url, r, grammars.get(r)) for r in ROLES}
        state = campaign.run(folder, campaign.Services(ev, models, retries=2))
    assert state["stop"] == "proposal budget reached (2/2)"
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    assert len(rows) == 2
    scored = [r for r in rows if r.stage in ("screened", "evaluated")]
    assert scored, [(r.stage, r.reason) for r in rows]
    assert all(0.0 <= r.screen_win_rate <= 1.0 for r in scored)
    evaluated = [r for r in rows if r.stage == "evaluated"]
    assert len(evaluated) == 1 and 0.0 <= evaluated[0].full_win_rate <= 1.0
    assert ledger.usage(info.id)[0] > 0  # tokens were counted
    findings = (folder / "findings" / "round-0.md").read_text()
    assert "| hypothesis | idea | budget | win rate |" in findings
    # Every kept hypothesis was run on the held-out splits, and only those.
    held = {h: rep for _, h, rep in ledger.results(info.id) if rep.split_set == "confirmation"}
    assert set(held) == {r.id for r in rows if r.kept}
    assert all(set(rep.cells) == {"iris-s3", "checkerboard-s3"} for rep in held.values())
    assert all(r.confirmation is not None for r in rows if r.kept)
    report = write_report(folder)
    assert "## Leaders" in report.read_text()
    # The leaders' curves come from the probe arrays the sandbox wrote.
    assert (report.parent / "curves.png").read_bytes()[:4] == b"\x89PNG"


def _own_orphans(client) -> list:
    return reaper.listed(client, label=f"{reaper.MANAGED_LABEL}=1")


def test_kill_9_at_random_points_loses_nothing(docker_sandbox, settings, tmp_path):
    """10 SIGKILLs at random moments, each followed by a resume: no finished result is lost,
    at most one experiment re-runs per kill, and no container is left behind."""
    folder = tmp_path / "crash"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=10, batch=2, full_top_k=0)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(1234)
    ledger = Ledger(folder / "ledger.sqlite")
    kills = 0
    for _ in range(10):
        before = {k for k, _, _ in ledger.results(info.id)}
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(folder), str(settings.home)], env=env
        )
        time.sleep(rng.uniform(0.5, 4.0))
        if child.poll() is not None:
            pytest.fail("the campaign finished before 10 kills: give it more proposals")
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills += 1
        after = {k for k, _, _ in ledger.results(info.id)}
        assert before <= after  # nothing finished was lost
    final = subprocess.run(
        [sys.executable, str(CHILD), str(folder), str(settings.home)], env=env, timeout=600
    )
    assert final.returncode == 0
    rows = ledger.hypotheses(info.id)
    assert len(rows) == 10
    assert all(r.stage in ("screened", "rejected") for r in rows), [r.stage for r in rows]
    results = ledger.results(info.id)
    _, launches = ledger.usage(info.id)
    # One probe job per hypothesis (10) and one for the catalogue, plus per kill at most the
    # interrupted step run again: the round's probes (a batch of 2) or one screening.
    assert launches <= len(results) + len(rows) + 1 + 2 * kills
    assert kills == 10
    # The archive, written across the kills, is intact and holds every hypothesis once.
    from evaluators.novelty import NoveltyArchive

    archived = {e.id: e for e in NoveltyArchive(tmp_path / "archive").examples("activation")}
    assert set(archived) == {f"{info.id}/{r.id}" for r in rows}
    for r in rows:
        entry = archived[f"{info.id}/{r.id}"]
        assert entry.target == pytest.approx(r.screen_win_rate)
        assert (entry.fingerprint is not None) == (r.stage == "screened")
    # The last process reaped its predecessors' orphans at start and removed its own at exit.
    assert _own_orphans(docker_sandbox.client) == []
