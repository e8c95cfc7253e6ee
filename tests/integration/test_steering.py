"""Steering a campaign on the real pieces: the embedded LLM, the Docker sandbox, SqliteSaver.
The chat is driven with scripted lines from this test, as a user would type them: a directive,
a pause and resume, a veto and approvals in approval mode, a question; then a paused campaign
process is killed and resumed. (Revisions and the other commands are tested on fakes in
tests/unit/store/test_steering.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from agents.llm import make_chat_model
from agents.prompting import grammar
from core.settings import CampaignSettings, LLMSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from hypoforge.campaign import ROLES
from hypoforge.chat import Chat
from hypoforge.llm_server import embedded_server
from store.ledger import Ledger
from tests.fakes import SystemPrompts


def wait_for(condition, seconds=300.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def decide_while_running(chat: Chat, ledger: Ledger, campaign_id: str, run: threading.Thread):
    """Answer the approval mode's questions as a user would until the campaign ends: veto the
    first hypothesis that waits for a launch, approve the others; return the vetoed row."""
    vetoed = None
    deadline = time.monotonic() + 300
    while run.is_alive():
        assert time.monotonic() < deadline, "timed out"
        for row in ledger.hypotheses(campaign_id):
            if row.stage != "coded" or chat.steering.decision(row.id, row.code_sha):
                continue
            if vetoed is None:
                chat.handle(f"veto {row.id} not smooth enough")
                vetoed = row
            else:
                chat.handle(f"approve {row.id}")
        time.sleep(0.1)
    return vetoed


def test_steering_a_campaign_on_the_embedded_llm(docker_sandbox, settings, tmp_path):
    folder = tmp_path / "camp"
    budgets = CampaignSettings(proposals=3, batch=3, full_top_k=0, approve=True)
    info = campaign.create(folder, "activation", budgets)
    ev = ActivationEvaluator(
        docker_sandbox,
        settings.home,
        settings.sandbox.limits,
        splits=[datasets.split("iris", 0)],
        wall_seconds=60,
    )
    models: dict = {}
    chat = Chat(folder, "ada", lambda: models["analyst"])
    chat.handle("@proposer prefer smooth functions such as x * sigmoid(x)")
    chat.handle("pause")
    ledger = Ledger(folder / "ledger.sqlite")
    llm = LLMSettings()
    grammars = {**ev.grammars(), "critic": grammar("verdict")}
    with embedded_server(llm.model, log=folder / "llm.log") as url:
        models.update({r: make_chat_model(llm, url, r, grammars.get(r)) for r in ROLES})
        told = SystemPrompts()
        models["proposer"].callbacks = [told]
        box: dict = {}
        run = threading.Thread(
            target=lambda: box.update(
                state=campaign.run(
                    folder, campaign.Services(ev, models, retries=1), poll_seconds=0.05
                )
            ),
            daemon=True,
        )
        run.start()
        wait_for(lambda: ledger.events(info.id, "start"))
        time.sleep(1.0)
        assert run.is_alive() and ledger.hypotheses(info.id) == []  # held by the pause
        chat.handle("resume")
        vetoed = decide_while_running(chat, ledger, info.id, run)
        assert not run.is_alive()
        reply = chat.handle("ask which hypothesis has the best screen win rate?")
    assert box["state"]["stop"] == "proposal budget reached (3/3)"
    assert told.seen and all("prefer smooth functions" in p for p in told.seen)
    rows = {r.id: r for r in ledger.hypotheses(info.id)}
    final = {"rejected", "invalid", "failed", "duplicate", "pruned", "screened", "evaluated"}
    final.add("vetoed")
    assert len(rows) == 3 and all(r.stage in final for r in rows.values()), rows  # nothing lost
    # The vetoed hypothesis was never launched: no probe, no result.
    assert vetoed is not None, "no proposal passed the critic and the validator"
    assert rows[vetoed.id].stage == "vetoed" and rows[vetoed.id].reason == "vetoed by ada"
    assert ledger.probe(info.id, vetoed.id, vetoed.code_sha or "") is None
    assert vetoed.id not in {h for _, h, _ in ledger.results(info.id)}
    assert reply.startswith("analyst: ") and "ledger rows" in reply
    kinds = {k for w, k, _ in ledger.events(info.id) if w == "ada"}
    assert {"directive", "pause", "resume", "veto", "ask"} <= kinds
    chat.close()


CHILD = Path(__file__).with_name("campaign_child.py")


def test_a_pause_survives_kill_9(docker_sandbox, settings, tmp_path):
    """Paused mid-campaign, the process is killed; the next process (what `hypoforge resume`
    runs) goes back to waiting instead of carrying on, and after the chat's resume the campaign
    finishes with nothing lost and nothing run twice."""
    folder = tmp_path / "paused"
    budgets = CampaignSettings(proposals=4, batch=2, full_top_k=0)
    info = campaign.create(folder, "activation", budgets)
    ledger = Ledger(folder / "ledger.sqlite")
    chat = Chat(folder, "ada")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, str(CHILD), str(folder), str(settings.home)]
    child = subprocess.Popen(command, env=env)
    try:
        wait_for(lambda: ledger.hypotheses(info.id), 120)
        chat.handle("pause")  # during round 0: the campaign stops before round 1
        wait_for(lambda: ledger.events(info.id, "wait"), 120)
        done = {r.id: r for r in ledger.hypotheses(info.id)}
        results = {key: report for key, _, report in ledger.results(info.id)}
        launches = ledger.usage(info.id)[1]
        assert set(done) == {"r0-0", "r0-1"} and results
        child.kill()
        child.wait()
        child = subprocess.Popen(command, env=env)
        wait_for(lambda: len(ledger.events(info.id, "wait")) == 2, 120)
        time.sleep(2.0)
        assert child.poll() is None  # still waiting for the user
        assert {r.id: r for r in ledger.hypotheses(info.id)} == done  # round 1 did not start
        assert ledger.usage(info.id)[1] == launches  # and nothing was launched again
        chat.handle("resume")
        assert child.wait(300) == 0
    finally:
        child.kill()
    rows = ledger.hypotheses(info.id)
    assert [r.id for r in rows] == ["r0-0", "r0-1", "r1-0", "r1-1"]
    assert all(r.stage in ("screened", "rejected", "failed") for r in rows), rows
    assert {r.id: r for r in rows if r.id in done} == done  # round 0 untouched by the resume
    finished = {key: report for key, _, report in ledger.results(info.id)}
    assert all(finished[key] == report for key, report in results.items())  # nothing lost
    kinds = [(w, k) for w, k, _ in ledger.events(info.id)]
    assert ("ada", "pause") in kinds and ("ada", "resume") in kinds
    assert kinds.count(("orchestrator", "resume")) == 1  # the second process resumed it
    chat.close()
