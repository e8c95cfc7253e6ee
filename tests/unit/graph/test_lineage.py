"""Experiment iteration (graph/lineage.py) on the campaign's fakes: how proposals pick parents,
what the proposer and coder are shown, and a child's source built on its parent's (for grokking,
an edit task: the parent's edits, then the child's, so the child's script holds both)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from core.errors import InfraError
from core.records import DatasetScore, EvalReport, HypothesisRow, Outcome
from core.settings import CampaignSettings
from evaluators import registry
from evaluators.edits import EditError, apply_edits
from graph import lineage
from graph.deps import Deps
from hypoforge import campaign
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start

TEMPLATE = Path(registry.get("grokking").folder / "train.py").read_text()
# What each line in an edited script adds to the fake win rate (0.5: the template's).
GAINS = {
    "LR = 5e-3": 0.10,
    "WEIGHT_DECAY = 0.5": 0.20,
    "WEIGHT_DECAY = 0.3": 0.25,
    "BETA2 = 0.99": 0.02,
    "LR = 4e-3": 0.01,
    "BETA1 = 0.85": 0.03,
}


class Recording(FakeListChatModel):
    """A scripted chat model that keeps the prompts it was sent."""

    seen: list[str] = Field(default_factory=list)

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.seen.append(str(messages[-1].content))
        return super()._call(messages, *args, **kwargs)


class EditsEvaluator:
    """A fake evaluator of grokking's edits: it applies them to the real train.py on the host
    (as the harness does before a job) and scores the edited script by the lines it holds."""

    description = "edits to train.py's blocks"

    def __init__(self) -> None:
        self.scripts: list[str] = []

    def runnable(self, source: str) -> str:
        return apply_edits(TEMPLATE, source)

    def static_problem(self, source: str) -> str | None:
        try:
            script = self.runnable(source)
        except EditError as exc:
            return str(exc)
        return "the edits change nothing" if script == TEMPLATE else None

    def experiment_key(self, source: str, budget: str) -> str:
        return hashlib.sha256(f"{source}|{budget}".encode()).hexdigest()[:24]

    def behaviour(self, report: EvalReport) -> list[float] | None:
        return None

    def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
        script = self.runnable(source)
        self.scripts.append(script)
        wr = 0.5 + sum(g for line, g in GAINS.items() if f"\n{line}\n" in script)
        scores = {
            d: DatasetScore(candidate=wr, baselines={"template": 0.5}, win_rate=wr)
            for d in ("mod13", "mod31")
        }
        return EvalReport(
            task="grokking",
            budget=budget,
            status=Outcome.OK,
            win_rate=wr,
            win_rate_ci=(wr - 0.01, wr + 0.01),
            comparisons=9,
            per_dataset=scores,
            harness_version="h",
            code_sha="c",
            wall_seconds=0.1,
        )


def edit(old: str, new: str, idea: str) -> str:
    return f"IDEA: {idea}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


def grokking(tmp_path: Path, **budgets: Any) -> tuple[Path, campaign.CampaignInfo]:
    folder = tmp_path / "camp"
    settings = CampaignSettings(**{"full_top_k": 0, "confirm": False, **budgets})
    return folder, campaign.create(folder, "grokking", settings)


def test_shares_are_dealt_in_a_fixed_order():
    default = CampaignSettings().lineage
    assert [lineage.dealt(default, n) for n in range(8)] == [
        "best", "diverse", "new", "best", "best", "diverse", "new", "best",
    ]  # fmt: skip
    assert {lineage.dealt({"new": 1.0}, n) for n in range(5)} == {"new"}
    assert [lineage.dealt({"best": 1, "new": 1}, n) for n in range(4)] == [
        "best", "new", "best", "new",
    ]  # fmt: skip


@given(
    st.dictionaries(st.sampled_from(lineage.KINDS), st.integers(0, 5), min_size=1).filter(
        lambda d: sum(d.values()) > 0
    ),
    st.integers(1, 40),
)
def test_any_stretch_of_proposals_holds_each_way_close_to_its_share(shares, n):
    weights = {k: float(v) for k, v in shares.items()}
    counts = Counter(lineage.dealt(weights, i) for i in range(n))
    total = sum(weights.values())
    for kind in lineage.KINDS:
        assert abs(counts[kind] - weights.get(kind, 0.0) / total * n) < 1.0 + 1e-9
    assert all(weights.get(k, 0.0) > 0 for k in counts)  # a zero share is never dealt


@pytest.mark.slow  # a whole campaign: the critic's text matches load the embedder
def test_a_six_proposal_grokking_campaign_applies_children_to_their_parents_scripts(tmp_path):
    folder, info = grokking(tmp_path, proposals=6, batch=2, lineage={"best": 1.0})
    replies = [
        edit("LR = 3e-3", "LR = 5e-3", "a larger learning rate"),
        edit("WEIGHT_DECAY = 1.0", "WEIGHT_DECAY = 0.5", "less weight decay"),
        # Round 1 builds on r0-1 (the best, 0.70): this edit matches only its edited script.
        edit("WEIGHT_DECAY = 0.5", "WEIGHT_DECAY = 0.3", "still less weight decay"),
        edit("BETA2 = 0.98", "BETA2 = 0.99", "a longer second moment"),
        # Round 2 builds on r1-0 (0.75), itself a child of r0-1.
        edit("LR = 3e-3", "LR = 4e-3", "a slightly larger learning rate"),
        edit("BETA1 = 0.9", "BETA1 = 0.85", "a shorter first moment"),
    ]
    ev = EditsEvaluator()
    proposer = Recording(responses=replies)
    ms = {**models([]), "proposer": proposer}
    state = campaign.run(folder, campaign.Services(ev, ms, retries=0))
    assert state["stop"] == "proposal budget reached (6/6)"
    ledger = Ledger(folder / "ledger.sqlite")
    rows = {r.id: r for r in ledger.hypotheses(info.id)}
    parents = {hid: r.parent for hid, r in rows.items()}
    assert parents == {
        "r0-0": None, "r0-1": None,
        "r1-0": "r0-1", "r1-1": "r0-1",
        "r2-0": "r1-0", "r2-1": "r1-0",
    }  # fmt: skip
    assert {r.stage for r in rows.values()} == {"screened"}
    wins = {hid: round(r.screen_win_rate or 0, 2) for hid, r in rows.items()}
    assert wins == {
        "r0-0": 0.6,
        "r0-1": 0.7,
        "r1-0": 0.75,
        "r1-1": 0.72,
        "r2-0": 0.76,
        "r2-1": 0.78,
    }

    def source(hid: str) -> str:
        return (folder / "hypotheses" / f"{hid}.py").read_text()

    for hid, parent in parents.items():
        if parent is None:
            continue
        # The child's source is its parent's, the separator, then its own edits.
        assert source(hid).startswith(source(parent).rstrip() + "\n")
        assert f"# {hid} builds on {parent}: its own edits follow\n" in source(hid)
    # The scripts the sandbox got: each child's holds its parent's edits and its own.
    grandchild = ev.runnable(source("r2-1"))
    assert "\nWEIGHT_DECAY = 0.3\n" in grandchild  # r1-0's edit, itself on r0-1's
    assert "\nBETA1 = 0.85\n" in grandchild  # its own
    assert "\nWEIGHT_DECAY = 1.0\n" not in grandchild and "WEIGHT_DECAY = 0.5" not in grandchild
    assert "\nWEIGHT_DECAY = 0.5\n" in ev.runnable(source("r1-1"))
    assert grandchild in ev.scripts
    events = [e for e in ledger.events(info.id, "parent")]
    assert len(events) == 4 and all('"by": "best"' in detail for _, _, detail in events)
    # The proposer was shown the parent: its edited block, per-dataset results and children.
    last = proposer.seen[-1]
    assert "build on one earlier hypothesis, r1-0" in last
    assert "- mod13: 0.75 (win rate 0.75)" in last
    assert "WEIGHT_DECAY = 0.3" in last and "# >>> EDIT hyperparameters" in last
    assert "r1-1" not in last  # a child of r0-1, not of r1-0
    assert "earlier hypothesis" not in proposer.seen[0]  # round 0: no parent yet
    round_two = proposer.seen[2]
    assert "# >>> EDIT optimizer" not in round_two  # only the blocks its edits changed


def test_a_childs_edit_against_the_template_is_refused_in_its_own_terms(tmp_path):
    folder, info = grokking(tmp_path, proposals=3, batch=1, lineage={"best": 1.0}, repairs=1)
    replies = [
        edit("WEIGHT_DECAY = 1.0", "WEIGHT_DECAY = 0.5", "less weight decay"),
        edit("LR = 3e-3", "LR = 5e-3", "a larger learning rate"),
        # On r0-1's script WEIGHT_DECAY is 0.5 already: this SEARCH matches nothing there.
        edit("WEIGHT_DECAY = 1.0", "WEIGHT_DECAY = 0.3", "still less weight decay"),
    ]
    fixed = "<<<<<<< SEARCH\nWEIGHT_DECAY = 0.5\n=======\nWEIGHT_DECAY = 0.3\n>>>>>>> REPLACE\n"
    coder = Recording(responses=[fixed])
    ms = {**models([]), "proposer": FakeListChatModel(responses=replies), "coder": coder}
    campaign.run(folder, campaign.Services(EditsEvaluator(), ms, retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    child = ledger.hypothesis(info.id, "r2-0")
    # r1-0 (0.80: both edits) is the best, and its script has WEIGHT_DECAY = 0.5 as r0-0's.
    assert (child.parent, child.stage, child.repairs) == ("r1-0", "screened", 1)
    assert round(child.screen_win_rate, 2) == 0.85
    (asked,) = coder.seen
    assert "THE CURRENT EDITS WERE REJECTED: edit 1: SEARCH text matches nothing" in asked
    assert "(your edits apply to the script of r1-0, after its own edits)" in asked
    assert "This idea builds on an earlier hypothesis, r1-0: a larger learning rate" in asked
    # The coder sees its own edits, not its parent's, and its reply is composed again.
    current = asked.split("CURRENT EDITS:")[1].split("THE CURRENT")[0]
    assert current.count("<<<<<<< SEARCH") == 1 and "WEIGHT_DECAY = 1.0" in current
    source = (folder / "hypotheses" / "r2-0.py").read_text()
    assert source.count("<<<<<<< SEARCH") == 3 and source.endswith(fixed)


@pytest.mark.slow  # a whole campaign: the critic's text matches load the embedder
def test_a_function_child_is_its_own_code_and_sees_its_parents(tmp_path):
    folder, info = start(tmp_path, proposals=3, batch=1, full_top_k=0, lineage={"best": 1.0})
    proposer = Recording(
        responses=[
            proposal("x * torch.sigmoid(x)", "a gate"),
            proposal("x * torch.tanh(x)", "a tanh gate"),
            proposal("x * torch.sigmoid(2.0 * x)", "a steeper gate"),
        ]
    )
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, {**models([]), "proposer": proposer}, retries=0))
    rows = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    best = max(rows[:2], key=lambda r: r.screen_win_rate or 0)
    assert [r.parent for r in rows] == [None, "r0-0", best.id]
    child = (folder / "hypotheses" / "r2-0.py").read_text()
    assert child.count("def activation") == 1 and "sigmoid(2.0 * x)" in child
    shown = proposer.seen[2]
    assert f"build on one earlier hypothesis, {best.id}" in shown
    assert "Its code (write a whole new version of it):" in shown
    assert (folder / "hypotheses" / f"{best.id}.py").read_text().strip() in shown
    children = "What the hypotheses built on it so far did:\n- r1-0: a tanh gate: win rate"
    assert (children in shown) == (best.id == "r0-0")


def deps_with(tmp_path: Path, rows: list[tuple[str, dict[str, float]]]) -> Deps:
    """A campaign's deps whose ledger holds scored rows: (id, win rate per dataset)."""
    ev = FakeEvaluator()
    folder = tmp_path / "camp"
    deps = Deps(
        campaign="c",
        folder=folder,
        ledger=Ledger(folder / "ledger.sqlite"),
        evaluator=ev,
        models={},
        settings=CampaignSettings(full_top_k=0),
        retries=0,
        plugin=registry.get("activation"),
    )
    for hid, per in rows:
        code = f"def activation(x):\n    return x * {len(hid)}  # {hid}\n"
        mean = sum(per.values()) / len(per)
        row = HypothesisRow(
            campaign="c", id=hid, round=0, mode="novel", idea=hid, screen_win_rate=mean
        )
        row = deps.write_code(row, code).model_copy(
            update={"stage": "screened", "outcome": Outcome.OK}
        )
        deps.ledger.save(row)
        report = EvalReport(
            task="t",
            budget="one-pass",
            status=Outcome.OK,
            win_rate=mean,
            per_dataset={
                d: DatasetScore(candidate=w, baselines={}, win_rate=w) for d, w in per.items()
            },
            harness_version="h",
            code_sha="c",
            wall_seconds=0.1,
        )
        deps.ledger.put_result(ev.experiment_key(code, "one-pass"), "c", hid, report)
    return deps


def test_diverse_spreads_over_the_leaders_of_the_datasets(tmp_path):
    deps = deps_with(
        tmp_path,
        [
            ("a", {"iris": 0.9, "wine": 0.5}),  # best overall, leads iris
            ("b", {"iris": 0.4, "wine": 0.8}),  # leads wine
            ("c", {"iris": 0.5, "wine": 0.6}),  # leads nothing
        ],
    )
    assert lineage.pick(deps, "best") == "a"
    assert (
        lineage.pick(deps, "diverse") == "a"
    )  # both lead one dataset and have no child: the better
    assert lineage.pick(deps, "diverse", {"a": 1}) == "b"  # a has a child now
    assert lineage.pick(deps, "diverse", {"a": 1, "b": 1}) == "a"
    assert lineage.pick(deps, "new") is None
    view = lineage.view(deps, "b")
    assert view is not None and not view.edits
    assert [(d.dataset, d.win_rate) for d in view.datasets] == [("iris", 0.4), ("wine", 0.8)]


def test_only_an_ok_unflagged_result_is_a_parent(tmp_path):
    deps = deps_with(tmp_path, [("a", {"iris": 0.9}), ("b", {"iris": 0.6})])
    a = deps.ledger.hypothesis("c", "a")
    deps.ledger.save(a.model_copy(update={"flags": ["bigger model: 2.00x"]}))
    assert lineage.pick(deps, "best") == "b"
    b = deps.ledger.hypothesis("c", "b")
    deps.ledger.save(b.model_copy(update={"outcome": Outcome.TIMEOUT}))  # failed a later rung
    assert lineage.pick(deps, "best") is None


def test_an_edit_parent_must_leave_room_for_a_childs_edits():
    one = "<<<<<<< SEARCH\nA = 1\n=======\nA = 2\n>>>>>>> REPLACE\n"
    assert lineage.has_room(one * 9)
    assert not lineage.has_room(one * 10)  # 12 edits at most: a child needs room for 3
    assert not lineage.has_room("<<<<<<< SEARCH\nA = 1\n")  # malformed: never a parent


def test_a_ledger_without_the_parent_column_resumes(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2, full_top_k=0)
    props = [proposal("x * torch.sigmoid(x)"), proposal("x * torch.tanh(x)")]
    failing = FakeEvaluator(fail_with=Outcome.INFRA_ERROR)
    with pytest.raises(InfraError):
        campaign.run(folder, campaign.Services(failing, models(props), retries=0))
    db = sqlite3.connect(folder / "ledger.sqlite")
    db.execute("ALTER TABLE hypotheses DROP COLUMN parent")  # as a ledger from before lineage
    db.commit()
    db.close()
    state = campaign.run(folder, campaign.Services(FakeEvaluator(), models(["unused"]), retries=0))
    assert state["stop"] == "proposal budget reached (2/2)"
    rows = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    assert [(r.parent, r.stage) for r in rows] == [(None, "screened"), (None, "screened")]


@pytest.mark.parametrize(("explore", "parents"), [(False, [None, "a"]), (True, [None, None])])
def test_a_round_that_explores_builds_on_nothing(tmp_path, explore, parents):
    from graph import nodes

    deps = deps_with(tmp_path, [("a", {"iris": 0.9}), ("b", {"iris": 0.6})])
    deps.models = {"proposer": FakeListChatModel(responses=[proposal("x * 2.0")])}
    # Round 1's proposals are the campaign's third and fourth: dealt "new", then "best".
    state = {"round": 1, "batch": [], "stop": "", "explore": explore}
    assert nodes.propose(state, deps) == {"batch": ["r1-0", "r1-1"]}
    rows = [deps.ledger.hypothesis("c", h) for h in ("r1-0", "r1-1")]
    assert [r.parent for r in rows] == parents
    assert [r.mode for r in rows] == (["novel", "novel"] if explore else ["incremental", "novel"])
