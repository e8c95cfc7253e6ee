"""A short campaign on each built-in task besides activation (which has its own, in
test_campaign.py), with the embedded LLM and the real sandbox: it runs to its budget and every
proposal ends in a final, recorded stage."""

from __future__ import annotations

import pytest

from evaluators.grokking import data as grokking_data
from evaluators.grokking.harness import GrokkingEvaluator
from evaluators.preprocess import data as preprocess_data
from evaluators.preprocess.harness import PreprocessEvaluator
from evaluators.regularizer import data as regularizer_data
from evaluators.regularizer.harness import RegularizerEvaluator

TASKS = {
    "grokking": (GrokkingEvaluator, [grokking_data.split(13, 0, steps=200)]),
    "preprocess": (PreprocessEvaluator, [preprocess_data.raw_split("wine", 0)]),
    "regularizer": (RegularizerEvaluator, [regularizer_data.small_split("moons", 0)]),
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_short_campaign_with_the_embedded_llm(task, docker_sandbox, settings, tmp_path):
    from agents.llm import make_chat_model
    from agents.prompting import grammar
    from core.settings import CampaignSettings, LLMSettings
    from hypoforge import campaign
    from hypoforge.campaign import ROLES
    from hypoforge.llm_server import embedded_server
    from store.ledger import Ledger

    cls, splits = TASKS[task]
    ev = cls(docker_sandbox, settings.home, settings.sandbox.limits, splits=splits, wall_seconds=60)
    folder = tmp_path / "camp"
    info = campaign.create(folder, task, CampaignSettings(proposals=2, batch=2, repairs=1))
    llm = LLMSettings()
    with embedded_server(llm.model, log=folder / "llm.log") as url:
        grammars = {**ev.grammars(), "critic": grammar("verdict")}  # as `hypoforge run` does
        models = {r: make_chat_model(llm, url, r, grammars.get(r)) for r in ROLES}
        state = campaign.run(folder, campaign.Services(ev, models, retries=1))
    assert state["stop"] == "proposal budget reached (2/2)"
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    final = {"screened", "evaluated", "invalid", "failed", "rejected", "duplicate", "pruned"}
    assert len(rows) == 2
    assert all(r.stage in final for r in rows), [(r.stage, r.reason) for r in rows]
    # With the task's grammars every proposal passes the static check and reaches the critic.
    assert all(r.verdict is not None for r in rows), [(r.stage, r.reason) for r in rows]
    assert ledger.usage(info.id)[0] > 0  # the model was asked
    assert (folder / "findings" / "round-0.md").exists()


@pytest.mark.parametrize("task", ["activation", "grokking", "preprocess", "regularizer"])
def test_task_grammars_make_the_embedded_model_write_valid_code(task, tmp_path):
    """Every built-in task's grammars: the 135M model's proposals parse and pass the static check
    (free text rarely does, see benchmarks/llm_validity.py)."""
    from agents import proposer
    from agents.llm import make_chat_model
    from core.settings import LLMSettings
    from evaluators import registry
    from hypoforge.llm_server import embedded_server

    plugin = registry.get(task)
    cls = plugin.evaluator_class()
    grammars = cls.grammars()
    assert set(grammars) == {"proposer", "coder"}
    llm = LLMSettings()
    with embedded_server(llm.model, log=tmp_path / "llm.log") as url:
        model = make_chat_model(llm, url, "proposer", grammars["proposer"])
        for i in range(3):
            answer = proposer.propose(
                model,
                mode="novel" if i % 2 else "incremental",
                task_description=cls.__new__(cls).description,
                best=[],
                failures=[],
                predictions=[],
                retries=0,
                task_dir=plugin.folder,
                function=plugin.function,
            )
            assert answer.value is not None, answer.errors
            assert cls.static_problem(answer.value.code) is None, answer.value.code
