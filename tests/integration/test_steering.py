"""Steering a campaign on the real pieces: the embedded LLM, the Docker sandbox, SqliteSaver.
The chat is driven with scripted lines from this test, as a user would type them. (Vetoes and
approvals are tested on fakes in tests/unit/test_steering.py, where the queue is certain.)"""

from __future__ import annotations

import threading
import time

from langchain_core.callbacks import BaseCallbackHandler

from agents.llm import make_chat_model
from agents.prompting import grammar
from evaluators.activation import datasets
from evaluators.activation.harness import ActivationEvaluator
from hypoforge import campaign
from hypoforge.campaign import ROLES
from hypoforge.chat import Chat
from hypoforge.ledger import Ledger
from hypoforge.llm_server import embedded_server
from hypoforge.settings import CampaignSettings, LLMSettings


class SystemPrompts(BaseCallbackHandler):
    """Keeps the system prompt of every request a chat model sends."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):  # type: ignore[no-untyped-def]
        self.seen.extend(str(batch[0].content) for batch in messages)


def wait_for(condition, seconds=300.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_steering_a_campaign_on_the_embedded_llm(docker_sandbox, settings, tmp_path):
    folder = tmp_path / "camp"
    budgets = CampaignSettings(proposals=2, batch=2, full_top_k=0)
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
                state=campaign.run(folder, ev, models, retries=1, poll_seconds=0.05)
            ),
            daemon=True,
        )
        run.start()
        wait_for(lambda: ledger.events(info.id, "start"))
        time.sleep(1.0)
        assert run.is_alive() and ledger.hypotheses(info.id) == []  # held by the pause
        chat.handle("resume")
        run.join(300)
        assert not run.is_alive()
        reply = chat.handle("ask which hypothesis has the best screen win rate?")
    assert box["state"]["stop"] == "proposal budget reached (2/2)"
    assert told.seen and all("prefer smooth functions" in p for p in told.seen)
    rows = ledger.hypotheses(info.id)
    final = {"rejected", "invalid", "failed", "duplicate", "pruned", "screened", "evaluated"}
    assert len(rows) == 2 and all(r.stage in final for r in rows), rows  # nothing lost
    assert reply.startswith("analyst: ") and "ledger rows" in reply
    kinds = {k for w, k, _ in ledger.events(info.id) if w == "ada"}
    assert {"directive", "pause", "resume", "ask"} <= kinds
    chat.close()
