"""Experiment iteration in the real sandbox: a 3-proposal campaign on grokking, one proposal a
round, each building on the best so far, so the last is a grandchild. Each child's source is its
parent's edits then its own, the ledger records the parent, and the script the container ran
holds every ancestor's edits. Scripted chat models (the sandbox, not the model, is under test;
the 6-proposal campaign on fakes is tests/unit/graph/test_lineage.py); on the smallest grokking
split of the task campaigns' test, screening only: 190 s measured on 2 cores at load 9."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from evaluators.grokking import data as grokking_data

# Each proposal changes its own line of the hyperparameters block, so its edit applies to the
# template and to any parent's script alike (which hypothesis is best is the sandbox's say).
EDITS = [
    ("LR = 3e-3", "LR = 4e-3"),
    ("WEIGHT_DECAY = 1.0", "WEIGHT_DECAY = 0.8"),
    ("BETA2 = 0.98", "BETA2 = 0.99"),
]


@pytest.mark.slow
def test_children_run_on_their_parents_scripts(docker_sandbox, settings, tmp_path):
    from core.settings import CampaignSettings
    from evaluators import registry
    from hypoforge import campaign
    from store.ledger import Ledger

    ev = registry.get("grokking").make_evaluator(
        docker_sandbox,
        settings.home,
        settings.sandbox.limits,
        splits=[grokking_data.split(13, 0, steps=200)],
        wall_seconds=60,
    )
    folder = tmp_path / "camp"
    budgets = CampaignSettings(
        proposals=3,
        batch=1,
        lineage={"best": 1.0},
        ladder=("one-pass",),
        promote=(),
        full_top_k=0,
        confirm=False,
    )
    info = campaign.create(folder, "grokking", budgets)
    replies = [
        f"IDEA: {new}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"
        for old, new in EDITS
    ]
    run = '{"decision": "run", "reasons": "fine", "p_win": 0.5}'
    models = {
        "proposer": FakeListChatModel(responses=replies),
        "critic": FakeListChatModel(responses=[run]),
        "coder": FakeListChatModel(responses=["(no repair)"]),
        "analyst": FakeListChatModel(responses=["fine"]),
    }
    state = campaign.run(folder, campaign.Services(ev, models, retries=0))
    assert state["stop"] == "proposal budget reached (3/3)"
    rows = {r.id: r for r in Ledger(folder / "ledger.sqlite").hypotheses(info.id)}
    assert all(r.stage == "screened" and r.outcome == "ok" for r in rows.values()), [
        (r.id, r.stage, r.reason) for r in rows.values()
    ]
    # r1-0 has one possible parent; r2-0 the better of r0-0 and r1-0 (r1-0 on a tie: fewer
    # children).
    assert [r.parent for r in rows.values()][:2] == [None, "r0-0"]
    grand = rows["r2-0"]
    assert grand.parent in ("r0-0", "r1-0")
    best = max(rows["r0-0"].screen_win_rate or 0, rows["r1-0"].screen_win_rate or 0)
    assert rows[grand.parent or ""].screen_win_rate == best
    children = [r for r in rows.values() if r.round > 0]

    def source(hid: str) -> str:
        return (folder / "hypotheses" / f"{hid}.py").read_text()

    for child in children:
        parent = child.parent or ""
        assert source(child.id).startswith(source(parent).rstrip() + "\n")
        script = ev.runnable(source(child.id))  # what its container ran (kit's make_job)
        line = child.id
        while line:  # the child's own edit and every ancestor's
            assert f"\n{EDITS[rows[line].round][1]}\n" in script, (child.id, line)
            line = rows[line].parent or ""
