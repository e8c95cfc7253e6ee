"""A hypothesis's life (``store.lifecycle``): the declared stage graph, the named transitions that
check it at the call, the events they hand the ledger, the keep and confirmation rules and what a
discovery is; the ledger refusing a stage that may not follow the stored one."""

from __future__ import annotations

import pytest

from core.errors import LifecycleError
from core.records import (
    Confirmation,
    EvalReport,
    HypothesisRow,
    NeverRan,
    Outcome,
    Stage,
)
from store import lifecycle
from store.ledger import Ledger
from store.lifecycle import FINAL, FOLLOWS, Event


def row(stage: Stage = Stage.PROPOSED, **kw) -> HypothesisRow:
    fields = {"campaign": "c", "id": "r0-0", "round": 0, "mode": "novel", "idea": "i"}
    return HypothesisRow(**(fields | {"stage": stage} | kw))


def report(status: Outcome = Outcome.OK, win: float | None = 0.9, **kw) -> EvalReport:
    fields = {
        "task": "t",
        "budget": "one-pass",
        "status": status,
        "win_rate": win,
        "win_rate_ci": None if win is None else (0.8, 0.95),
        "harness_version": "h",
        "code_sha": "c",
        "wall_seconds": 1.0,
        "cell_win_rates": {} if win is None else {f"d{i}-s0": 1.0 for i in range(21)},
    }
    return EvalReport(**(fields | kw))


def test_the_stage_graph_covers_every_stage_and_every_life_can_end():
    assert set(FOLLOWS) == set(Stage)
    finals = {Stage.REJECTED, Stage.INVALID, Stage.DUPLICATE, Stage.PRUNED, Stage.VETOED}
    assert finals | {Stage.FAILED} == FINAL
    # From every stage a final one is reachable, or it is measured (the end of a round).
    for start in Stage:
        seen, todo = {start}, [start]
        while todo:
            for after in FOLLOWS[todo.pop()] - seen:
                seen.add(after)
                todo.append(after)
        assert seen & (FINAL | {Stage.SCREENED, Stage.EVALUATED}), start


def test_a_discovery_lives_through_every_stage_and_logs_its_events():
    events: list[Event] = []

    def step(change: lifecycle.Change) -> HypothesisRow:
        if change.event is not None:
            events.append(change.event)
        return change.row

    r = step(lifecycle.judged(row(), "run", "plausible", 0.7))
    assert r.stage is Stage.PROPOSED and r.verdict == "run" and r.p_win == 0.7
    r = step(lifecycle.validated(r, None, max_repairs=2))
    assert r.stage is Stage.CODED and r.reason is None
    r = step(lifecycle.probed(r, None, max_repairs=2))
    r = step(lifecycle.selected(r, predicted=0.8))
    r = step(lifecycle.screened(r, report(), "one-pass", max_repairs=2))
    assert r.stage is Stage.SCREENED and r.outcome is Outcome.OK and r.rungs == {"one-pass": 0.9}
    r = step(lifecycle.evaluated(r, report(), "full", last=True))
    assert r.stage is Stage.EVALUATED and r.full_win_rate == 0.9
    r = step(lifecycle.kept(r, report(), tried=3))
    assert r.kept is True and not lifecycle.discovery(r)
    r = step(lifecycle.confirmed(r, report(), confirmations=1))
    assert r.confirmation is Confirmation.CONFIRMED and lifecycle.discovery(r)
    assert [(e.who, e.kind) for e in events] == [("critic", "verdict"), ("analyst", "confirmation")]
    assert events[0].detail == {
        "id": "r0-0",
        "decision": "run",
        "reasons": "plausible",
        "p_win": 0.7,
    }
    assert events[1].detail == {"id": "r0-0", "verdict": "confirmed", "win_rate": 0.9}


@pytest.mark.parametrize(
    ("stage", "move"),
    [
        (Stage.PROBED, lambda r: lifecycle.screened(r, report(), "one-pass", 2)),
        (Stage.PROPOSED, lambda r: lifecycle.selected(r, None)),
        (Stage.SCREENED, lambda r: lifecycle.needs_repair(r, "late")),
        (Stage.PRUNED, lambda r: lifecycle.vetoed(r, "alice")),
        (Stage.FAILED, lambda r: lifecycle.repaired(r)),
        (Stage.CODED, lambda r: lifecycle.duplicate(r, "c/r0-1", 0.5)),
        (Stage.CODED, lambda r: lifecycle.judged(r, "run", "", None)),
        (Stage.PROBED, lambda r: lifecycle.kept(r, report(), 1)),
        (Stage.SCREENED, lambda r: lifecycle.confirmed(r, report(), 1)),  # not kept
    ],
)
def test_an_illegal_transition_raises_at_the_call(stage, move):
    with pytest.raises(LifecycleError, match="r0-0"):
        move(row(stage))


def test_a_final_stage_names_itself_in_the_error():
    with pytest.raises(
        LifecycleError, match=r"may not follow vetoed \(allowed: none: it is final\)"
    ):
        lifecycle.selected(row(Stage.VETOED), None)


def test_a_failed_check_goes_back_to_the_coder_while_repairs_are_left():
    back = lifecycle.validated(row(), "uses eval", max_repairs=1).row
    assert back.stage is Stage.NEEDS_REPAIR and back.reason == "uses eval" and back.outcome is None
    final = lifecycle.validated(row(repairs=1), "uses eval", max_repairs=1).row
    assert final.stage is Stage.INVALID and final.outcome is Outcome.INVALID
    probe = lifecycle.probed(row(Stage.CODED, repairs=1), "zero gradient", max_repairs=1).row
    assert probe.stage is Stage.FAILED and probe.outcome is Outcome.INVALID
    again = lifecycle.repaired(back).row
    assert again.stage is Stage.PROPOSED and again.repairs == 1


def test_screening_sends_code_faults_to_the_coder_and_the_rest_to_failed():
    selected = row(Stage.SELECTED)
    crash = report(Outcome.HYP_ERROR, win=None, reason="ZeroDivisionError")
    back = lifecycle.screened(selected, crash, "one-pass", max_repairs=1).row
    assert back.stage is Stage.NEEDS_REPAIR and back.outcome is Outcome.HYP_ERROR
    assert back.rungs == {} and back.reason == "ZeroDivisionError"
    slow = lifecycle.screened(selected, report(Outcome.TIMEOUT, win=None), "one-pass", 1).row
    assert slow.stage is Stage.FAILED and slow.outcome is Outcome.TIMEOUT
    # With no coder (or no tokens) a row waiting for a repair fails with the outcome it had.
    assert lifecycle.failed(back).row.outcome is Outcome.HYP_ERROR
    assert lifecycle.failed(row(Stage.NEEDS_REPAIR)).row.outcome is Outcome.INVALID


def test_the_critic_rejects_or_sends_back_and_the_ones_that_never_ran_say_why():
    rejected = lifecycle.judged(row(), "reject", "x" * 400, 0.1).row
    assert rejected.stage is Stage.REJECTED and rejected.outcome is NeverRan.REJECTED
    assert rejected.reason == "x" * 300
    assert lifecycle.judged(row(), "revise", "use tanh", None).row.stage is Stage.NEEDS_REPAIR
    same = lifecycle.same_code(row(), "c/r0-1")
    assert same.event is None and same.row.reason == "same code as r0-1"
    assert same.row.outcome is NeverRan.DUPLICATE and same.row.verdict == "reject"
    twin = lifecycle.duplicate(row(Stage.PROBED), "other/r3-1", 0.6)
    assert twin.row.screen_win_rate == 0.6 and twin.row.duplicate_of == "other/r3-1"
    assert twin.event == Event("archive", "duplicate", {"id": "r0-0", "of": "other/r3-1"})
    veto = lifecycle.vetoed(row(Stage.SELECTED), "alice").row
    assert veto.outcome is NeverRan.VETOED and veto.reason == "vetoed by alice"


def test_keep_and_confirmation_rules():
    # Without cells, keep rests on the 95% interval: above 1/2 or not.
    assert lifecycle.keeps(report(cell_win_rates={}), 1) == (True, None)
    low = report(cell_win_rates={}, win_rate_ci=(0.45, 0.7))
    assert lifecycle.keeps(low, 1) == (False, None)
    assert lifecycle.finding("h", "i", report(Outcome.TIMEOUT, win=None)) is None
    line = lifecycle.finding("h", "i", low, row=row(Stage.SCREENED, kept=True))
    assert line is not None and line.keep and line.bound is None  # the ledger's decision holds
    flagged = report(flags=("bigger model",))
    assert lifecycle.keeps(flagged, 1) == (False, None)
    assert lifecycle.confirms(flagged, 1) is Confirmation.FLAGGED
    assert lifecycle.confirms(report(Outcome.OOM, win=None), 1) == "failed: oom"
    assert lifecycle.confirms(report(win=None), 1) is Confirmation.FAILED_OK
    # A published component is never a discovery, kept and confirmed or not.
    known = row(Stage.EVALUATED, kept=True, confirmation=Confirmation.CONFIRMED, known="same as X")
    assert not lifecycle.discovery(known)


def test_fates_share_no_value_and_every_failed_confirmation_has_a_member():
    assert not {o.value for o in Outcome} & {n.value for n in NeverRan}
    for outcome in Outcome:
        assert Confirmation.failed(outcome) == f"failed: {outcome.value}"


def test_the_ledger_keeps_the_stored_strings_and_refuses_an_impossible_story(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    r = row(Stage.PROBED, verdict="run")
    ledger.save(r)
    ledger.apply(lifecycle.duplicate(r, "c/r0-9", 0.5))
    stored = ledger.db.execute("SELECT stage, outcome, mode, verdict FROM hypotheses").fetchone()
    assert stored == ("duplicate", "duplicate", "novel", "run")
    assert ledger.events("c", "duplicate") == [
        ("archive", "duplicate", '{"id": "r0-0", "of": "c/r0-9"}')
    ]
    (back,) = ledger.hypotheses("c")
    assert back.outcome is NeverRan.DUPLICATE and back.stage is Stage.DUPLICATE
    # A row written past the transitions (a stale copy at an earlier stage) is refused on save.
    with pytest.raises(LifecycleError, match="may not follow duplicate"):
        ledger.save(r.model_copy(update={"stage": Stage.SELECTED}))
    done = row(Stage.SCREENED, id="r0-1", outcome=Outcome.OK, kept=True)
    ledger.save(done.model_copy(update={"confirmation": Confirmation.FAILED_TIMEOUT}))
    assert ledger.hypothesis("c", "r0-1").confirmation is Confirmation.FAILED_TIMEOUT
    assert ledger.db.execute(
        "SELECT confirmation FROM hypotheses WHERE id = 'r0-1'"
    ).fetchone() == ("failed: timeout",)
