"""Confirmation on held-out splits, the corrected keep rule and the promotion ladder: the real
activation evaluator over a fake sandbox (canned logits per split), the whole campaign graph."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from agents import analyst
from core.records import Confirmation, EvalReport, Outcome
from core.settings import CampaignSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.stats import lower_bound
from hypoforge import campaign
from hypoforge.report import write_report
from store.ledger import Ledger
from store.lifecycle import confirms, discovery, finding, keeps
from tests.fakes import CONFIRM_SPLITS, SMALL_SPLITS, FakeSandbox, half_right, one_hot, perfect

SELECTION = {s.name for s in SMALL_SPLITS}
HELD_OUT = {s.name for s in CONFIRM_SPLITS}


def wrong(split):
    return one_hot((split.y_test + 1) % split.n_classes, split.n_classes)


def run(tmp_path, logits, **budgets):
    sandbox = FakeSandbox(candidate_logits=logits)
    ev = ActivationEvaluator(
        sandbox, tmp_path / "home", splits=SMALL_SPLITS, confirm_splits=CONFIRM_SPLITS
    )
    folder = tmp_path / "camp"
    # The fake sandbox probes a hypothesis as tanh, a published function: run it as any other.
    settings = CampaignSettings(
        generator="search", **{"proposals": 1, "batch": 1, "allow_known": "yes", **budgets}
    )
    info = campaign.create(folder, "activation", settings)
    campaign.run(folder, campaign.Services(ev, {}, retries=0, generator="search"))
    ledger = Ledger(folder / "ledger.sqlite")
    return folder, info, ledger, sandbox


def candidate_splits(sandbox):
    """The split names of every candidate job (baseline jobs have other candidates)."""
    out = []
    for spec in sandbox.specs:
        if spec["candidates"] == ["candidate"] and spec["splits"]:
            out.append(set(spec["splits"]))
    return out


def test_kept_hypothesis_is_confirmed_on_splits_selection_never_saw(tmp_path):
    folder, info, ledger, sandbox = run(tmp_path, perfect)
    (row,) = ledger.hypotheses(info.id)
    assert row.kept is True and row.confirmation == "confirmed" and discovery(row)
    assert set(row.rungs) == {"one-pass", "short", "full"} and row.confirm_win_rate == 1.0
    reports = [rep for _, _, rep in ledger.results(info.id)]
    selection = [r for r in reports if r.split_set == "selection"]
    held = [r for r in reports if r.split_set == "confirmation"]
    assert sorted(r.budget for r in selection) == ["full", "one-pass", "short"]
    assert len(held) == 1 and held[0].budget == "full"
    # Split ids in the ledger: the confirmation ran on other splits than every selection run.
    assert held[0].splits_id not in {r.splits_id for r in selection}
    assert set(held[0].cells) == HELD_OUT and all(set(r.cells) == SELECTION for r in selection)
    assert candidate_splits(sandbox) == [SELECTION] * 3 + [HELD_OUT]
    text = write_report(folder).read_text()
    assert "## Discoveries" in text and f"- {row.id} (" in text
    assert (folder / "report" / "confirmation.png").exists()


def test_win_at_selection_and_loss_at_confirmation_is_not_confirmed(tmp_path):
    def logits(split):
        return perfect(split) if split.name in SELECTION else wrong(split)

    folder, info, ledger, _ = run(tmp_path, logits)
    (row,) = ledger.hypotheses(info.id)
    assert row.kept is True and row.selection_win_rate == 1.0
    assert row.confirmation == "not confirmed" and row.confirm_win_rate == 0.0
    assert not discovery(row)
    st = campaign.status(folder)
    assert st["confirmation"]["confirmed"] == [] and st["confirmation"]["regression"]["drop"] == 1.0
    text = write_report(folder).read_text()
    assert "None: no hypothesis was kept and then confirmed" in text
    assert "| not confirmed |" in text
    findings = (folder / "findings" / "round-0.md").read_text()
    assert "| 0.00 | not confirmed |" in findings


def test_a_hypothesis_not_kept_is_never_confirmed(tmp_path):
    _, info, ledger, sandbox = run(tmp_path, half_right)  # ties every baseline: 0.5
    (row,) = ledger.hypotheses(info.id)
    assert row.kept is False and row.confirmation is None and row.confirm_win_rate is None
    assert all(rep.split_set != "confirmation" for _, _, rep in ledger.results(info.id))
    assert HELD_OUT not in candidate_splits(sandbox)


def test_confirmation_can_be_turned_off(tmp_path):
    _, info, ledger, sandbox = run(tmp_path, perfect, confirm=False)
    (row,) = ledger.hypotheses(info.id)
    assert row.kept is True and row.confirmation is None and not discovery(row)
    assert HELD_OUT not in candidate_splits(sandbox)


def report(cells: list[float]) -> EvalReport:
    return EvalReport(
        task="activation",
        budget="full",
        status=Outcome.OK,
        win_rate=float(np.mean(cells)),
        win_rate_ci=(0.6, 0.9),
        harness_version="h",
        code_sha="c",
        wall_seconds=1.0,
        cell_win_rates={f"d{i}-s0": v for i, v in enumerate(cells)},
    )


def test_the_correction_changes_the_keep_decision():
    # 16 of 21 cells won: clearly above 1/2 for one hypothesis, not after trying 200.
    crafted = report([1.0] * 16 + [0.0] * 5)
    alone, bound_alone = keeps(crafted, tried=1)
    many, bound_many = keeps(crafted, tried=200)
    assert alone and bound_alone is not None and bound_alone > 0.5
    assert not many and bound_many is not None and bound_many <= 0.5
    found = finding("h", "idea", crafted, tried=200)
    assert found is not None and not found.keep and "(m=200)" in analyst.table([found])


def test_flagged_or_failed_results_are_never_kept_or_confirmed():
    flagged = report([1.0] * 21).model_copy(update={"flags": ("bigger model",)})
    assert keeps(flagged, 1) == (False, None)
    assert confirms(flagged, 1) is Confirmation.FLAGGED
    failed = report([1.0] * 21).model_copy(update={"status": Outcome.TIMEOUT})
    assert confirms(failed, 1) is Confirmation.FAILED_TIMEOUT == "failed: timeout"
    assert confirms(report([1.0] * 21), 5) is Confirmation.CONFIRMED


def test_lower_bound_tightens_with_the_level():
    values = [1.0, 0.5, 0.75, 1.0, 0.25, 1.0, 0.75, 0.5]
    assert lower_bound(values, 0.05) > lower_bound(values, 0.0005)
    assert lower_bound([0.7] * 5, 1e-6) == 0.7


def test_ladder_promotes_the_best_of_each_rung(tmp_path):
    _, info, ledger, _ = run(tmp_path, perfect, full_top_k=0)
    (row,) = ledger.hypotheses(info.id)
    assert set(row.rungs) == {"one-pass"} and row.stage == "screened"
    # Kept on its screening figure alone, and still confirmed at the full budget.
    assert row.kept is True and row.confirmation == "confirmed"


def old_ledger(path, *rows: str):
    """A ledger file as the first release wrote it (no columns added since), holding ``rows``
    (SQL value tuples)."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE hypotheses (campaign TEXT NOT NULL, id TEXT NOT NULL, round INTEGER NOT "
        "NULL, mode TEXT NOT NULL, idea TEXT NOT NULL, code_sha TEXT, stage TEXT NOT NULL, "
        "verdict TEXT, p_win REAL, outcome TEXT, reason TEXT, screen_win_rate REAL, "
        "full_win_rate REAL, repairs INTEGER NOT NULL, updated REAL NOT NULL, "
        "PRIMARY KEY (campaign, id));"
        + "".join(f"INSERT INTO hypotheses VALUES {r};" for r in rows)
    )
    db.commit()
    db.close()
    return path


def test_old_ledgers_gain_the_new_columns(tmp_path):
    path = old_ledger(
        tmp_path / "ledger.sqlite",
        "('c', 'r0-0', 0, 'novel', 'old', NULL, 'screened', 'run', NULL, 'ok', NULL, 0.7, NULL, "
        "0, 0.0)",
    )
    (row,) = Ledger(path).hypotheses("c")
    assert row.rungs == {} and row.kept is None and row.selection_win_rate == 0.7


@pytest.mark.slow
def test_report_quotes_the_fidelity_of_its_harness(tmp_path):
    from evaluators import fidelity
    from tests.fakes import SOURCES, UP, scripted

    folder, info, ledger, _ = run(tmp_path, perfect)
    home = tmp_path / "home"
    assert "No fidelity measured for harness" in write_report(folder, home).read_text()
    evaluator = scripted(selection__one_pass=UP, confirmation__one_pass=UP, selection__short=UP)
    evaluator.version = next(rep for _, _, rep in ledger.results(info.id)).harness_version
    fidelity.save(home, fidelity.measure(evaluator, SOURCES, budgets=("one-pass", "short")))
    text = write_report(folder, home).read_text()
    assert f"Fidelity of harness {evaluator.version}" in text
    assert "- one-pass -> short: Kendall 1.00" in text


def test_stages_and_outcomes_are_closed_sets(tmp_path):
    import pytest
    from pydantic import ValidationError

    from core.records import HypothesisRow, NeverRan, Stage

    ledger = Ledger(tmp_path / "ledger.sqlite")
    row = HypothesisRow(campaign="c", id="r0-0", round=0, mode="novel", idea="i")
    ledger.save(row.model_copy(update={"stage": "pruned", "outcome": "pruned"}))
    (back,) = ledger.hypotheses("c")
    assert back.stage is Stage.PRUNED and back.outcome is NeverRan.PRUNED
    with pytest.raises(ValidationError):
        ledger.save(row.model_copy(update={"stage": "finished"}))


def test_old_ledgers_move_a_folded_flag_into_its_column(tmp_path):
    path = old_ledger(
        tmp_path / "ledger.sqlite",
        "('c', 'r0-0', 0, 'novel', 'big', NULL, 'evaluated', 'run', NULL, 'ok', "
        "'bigger model: 2.00x; slow', 0.9, 0.9, 0, 0.0)",
        "('c', 'r0-1', 0, 'novel', 'bad', NULL, 'failed', 'run', NULL, 'timeout', "
        "'killed at 120 s', NULL, NULL, 0, 0.0)",
    )
    big, bad = Ledger(path).hypotheses("c")
    assert big.flags == ["bigger model: 2.00x", "slow"] and big.reason is None and big.flagged
    assert bad.flags == [] and bad.reason == "killed at 120 s" and not bad.flagged
    # Opening again changes nothing more.
    again, _ = Ledger(path).hypotheses("c")
    assert again.flags == ["bigger model: 2.00x", "slow"]


def test_a_hypothesis_that_failed_on_a_later_rung_is_no_lead(tmp_path):
    from core.records import HypothesisRow
    from evaluators import registry
    from graph import knowledge
    from graph.deps import Deps

    ledger = Ledger(tmp_path / "ledger.sqlite")
    base = dict(campaign="c", round=0, mode="novel", stage="evaluated", screen_win_rate=0.8)
    ledger.save(HypothesisRow(id="r0-0", idea="fast then timed out", outcome="timeout", **base))
    ledger.save(HypothesisRow(id="r0-1", idea="big", outcome="ok", flags=["bigger model"], **base))
    ledger.save(HypothesisRow(id="r0-2", idea="sound", outcome="ok", **base))
    deps = Deps(
        campaign="c",
        folder=tmp_path,
        ledger=ledger,
        evaluator=None,  # type: ignore[arg-type]
        models={},
        settings=CampaignSettings(),
        retries=0,
        plugin=registry.get("activation"),
    )
    told = knowledge.for_proposer(deps)
    assert [b.idea for b in told["best"]] == ["sound"]
    assert any("fast then timed out: timeout" in f for f in told["failures"])
