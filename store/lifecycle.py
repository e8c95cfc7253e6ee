"""A hypothesis's life: which stage may follow which, the named transitions that move a row, and
the rules that decide keep, confirmation and discovery.

Every change of ``HypothesisRow.stage`` is one of the transitions below. Each checks the declared
stage graph (``FOLLOWS``) and raises ``LifecycleError`` at the call for a move it does not allow,
so a node that would skip a step (screen a row the reward model never selected, say) fails where
it is wrong rather than leaving a ledger that tells an impossible story. A transition returns a
``Change``: the new row and the ledger event to log with it, if any (``Ledger.apply`` writes
both); the ledger checks the same graph again on every save.

The rules are trusted statistics, decided by code from measured numbers: keep when the win rate's
lower bound lies above 1/2 at ``ALPHA / m`` (m: hypotheses measured so far, Bonferroni) and the
harness flagged nothing; a kept hypothesis is confirmed when its run on held-out splits is above
1/2 at ``ALPHA / k`` (k: confirmation runs so far); a discovery is kept, confirmed and not a
published component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import LifecycleError
from core.records import (
    Confirmation,
    CriticDecision,
    EvalReport,
    HypothesisRow,
    NeverRan,
    Outcome,
    Stage,
)
from evaluators.stats import ALPHA, corrected_alpha, lower_bound

if TYPE_CHECKING:
    from agents.analyst import Finding

S = Stage
# The stage graph: the stages that may follow each one. Those with none are final.
FOLLOWS: Mapping[Stage, frozenset[Stage]] = {
    S.PROPOSED: frozenset({S.CODED, S.NEEDS_REPAIR, S.INVALID, S.REJECTED, S.DUPLICATE}),
    S.NEEDS_REPAIR: frozenset({S.PROPOSED, S.FAILED}),
    S.CODED: frozenset({S.PROBED, S.NEEDS_REPAIR, S.FAILED, S.VETOED}),
    S.PROBED: frozenset({S.SELECTED, S.PRUNED, S.DUPLICATE}),
    S.SELECTED: frozenset({S.SCREENED, S.NEEDS_REPAIR, S.FAILED, S.VETOED}),
    S.SCREENED: frozenset({S.EVALUATED}),
    S.EVALUATED: frozenset({S.EVALUATED}),  # one rung after another
    S.REJECTED: frozenset(),
    S.INVALID: frozenset(),
    S.DUPLICATE: frozenset(),
    S.PRUNED: frozenset(),
    S.VETOED: frozenset(),
    S.FAILED: frozenset(),
}
FINAL = frozenset(s for s, after in FOLLOWS.items() if not after)
MEASURED = (S.SCREENED, S.EVALUATED)  # stages with a result on the selection splits
# Sandbox outcomes the coder can fix from the error message (not timeouts, memory or disk).
REPAIRABLE = (Outcome.INVALID, Outcome.HYP_ERROR, Outcome.NONFINITE)
REASON_CHARS = 300  # a reason kept in the ledger is cut to this length


def may_follow(before: Stage, after: Stage) -> bool:
    """Whether a row at ``before`` may be saved at ``after`` (staying put is always allowed)."""
    return after == before or after in FOLLOWS[before]


def check_move(hid: str, before: Stage, after: Stage) -> None:
    """Raise ``LifecycleError`` unless ``after`` may follow ``before``."""
    if not may_follow(before, after):
        allowed = ", ".join(sorted(FOLLOWS[before])) or "none: it is final"
        raise LifecycleError(
            f"hypothesis {hid}: stage {after} may not follow {before} (allowed: {allowed})"
        )


@dataclass(frozen=True)
class Event:
    """A ledger event (``Ledger.log``): who did what, with its detail."""

    who: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """What a transition decided: the new row, and the event to log beside it (None: none)."""

    row: HypothesisRow
    event: Event | None = None


def _move(row: HypothesisRow, stage: Stage, **update: Any) -> HypothesisRow:
    check_move(row.id, row.stage, stage)
    return row.model_copy(update={"stage": stage, **update})


def _require(row: HypothesisRow, *stages: Stage) -> None:
    """For a change that keeps the stage: raise unless the row is at one of ``stages``."""
    if row.stage not in stages:
        raise LifecycleError(
            f"hypothesis {row.id}: at stage {row.stage}, not at {' or '.join(stages)}"
        )


def _cut(reason: str) -> str:
    return reason[:REASON_CHARS]


# -- before any compute --------------------------------------------------------------------------
def invalid(row: HypothesisRow, reason: str) -> Change:
    """A proposal with no usable code (the proposer's reply could not be parsed): final."""
    return Change(_move(row, S.INVALID, outcome=Outcome.INVALID, reason=reason))


def same_code(row: HypothesisRow, of: str) -> Change:
    """A proposal whose code an earlier hypothesis ``of`` (campaign/id) already has: final, no
    review needed."""
    original = of.rsplit("/", 1)[-1]
    update = {"verdict": "reject", "outcome": NeverRan.DUPLICATE, "duplicate_of": of}
    return Change(_move(row, S.DUPLICATE, reason=f"same code as {original}", **update))


def judged(
    row: HypothesisRow, decision: CriticDecision, reasons: str, p_win: float | None
) -> Change:
    """The critic's verdict on a proposal: run (it goes on to the static check), revise (back to
    the coder) or reject (final)."""
    _require(row, S.PROPOSED)
    update: dict[str, Any] = {"verdict": decision, "p_win": p_win}
    detail = {"id": row.id, "decision": decision, "reasons": reasons, "p_win": p_win}
    event = Event("critic", "verdict", detail)
    if decision == "reject":
        new = _move(row, S.REJECTED, outcome=NeverRan.REJECTED, reason=_cut(reasons), **update)
    elif decision == "revise":
        new = _move(row, S.NEEDS_REPAIR, reason=_cut(reasons), **update)
    else:
        new = row.model_copy(update=update)
    return Change(new, event)


def needs_repair(row: HypothesisRow, reason: str) -> Change:
    """Back to the coder with ``reason`` (a failed check, the user's revision)."""
    return Change(_move(row, S.NEEDS_REPAIR, reason=reason))


def repaired(row: HypothesisRow) -> Change:
    """The coder answered: one repair more, and the row is a proposal again (its new code, if
    any, is written by the caller)."""
    return Change(_move(row, S.PROPOSED, repairs=row.repairs + 1))


def failed(row: HypothesisRow, reason: str | None = None) -> Change:
    """Final without a (further) repair: no coder, or no tokens left for one. The outcome that
    sent it to the coder stays (``invalid`` when there was none)."""
    update: dict[str, Any] = {"outcome": row.outcome or Outcome.INVALID}
    if reason is not None:
        update["reason"] = _cut(reason)
    return Change(_move(row, S.FAILED, **update))


def _checked(
    row: HypothesisRow, problem: str | None, max_repairs: int, passed: Stage, final: Stage
) -> Change:
    """After a check of the row's code: ``passed`` without a problem, back to the coder while
    repairs are left, else ``final`` with outcome ``invalid``."""
    if problem is None:
        return Change(_move(row, passed, reason=None))
    if row.repairs < max_repairs:
        return needs_repair(row, problem)
    return Change(_move(row, final, outcome=Outcome.INVALID, reason=problem))


def validated(row: HypothesisRow, problem: str | None, max_repairs: int) -> Change:
    """The static check: coded (waits for the gate and the probe), back to the coder, or
    invalid for good."""
    return _checked(row, problem, max_repairs, passed=S.CODED, final=S.INVALID)


def probed(row: HypothesisRow, problem: str | None, max_repairs: int) -> Change:
    """The property probe: probed (waits for selection), back to the coder, or failed."""
    return _checked(row, problem, max_repairs, passed=S.PROBED, final=S.FAILED)


def vetoed(row: HypothesisRow, who: str) -> Change:
    """The user said no before its code ran: final."""
    return Change(_move(row, S.VETOED, outcome=NeverRan.VETOED, reason=f"vetoed by {who}"))


# -- selection -----------------------------------------------------------------------------------
def duplicate(row: HypothesisRow, of: str, win_rate: float | None) -> Change:
    """A probed hypothesis that behaves exactly like ``of`` (an archive id): final, and the
    original's screening win rate is reused instead of running."""
    reason = f"behaves exactly like {of}: its result is reused"
    new = _move(
        row,
        S.DUPLICATE,
        outcome=NeverRan.DUPLICATE,
        duplicate_of=of,
        screen_win_rate=win_rate,
        reason=reason,
    )
    return Change(new, Event("archive", "duplicate", {"id": row.id, "of": of}))


def selected(row: HypothesisRow, predicted: float | None) -> Change:
    """Chosen for screening (``predicted``: the reward model's win rate, None without one)."""
    return Change(_move(row, S.SELECTED, predicted=predicted))


def pruned(row: HypothesisRow, why: str, predicted: float | None = None) -> Change:
    """Not screened, for ``why``: final."""
    return Change(_move(row, S.PRUNED, outcome=NeverRan.PRUNED, predicted=predicted, reason=why))


# -- measured ------------------------------------------------------------------------------------
def screened(row: HypothesisRow, report: EvalReport, rung: str, max_repairs: int) -> Change:
    """The first rung's result: screened when OK, back to the coder for a code fault while
    repairs are left, else failed. The outcome, reason, flags and win rate are recorded."""
    if report.status is Outcome.OK:
        stage = S.SCREENED
    elif report.status in REPAIRABLE and row.repairs < max_repairs:
        stage = S.NEEDS_REPAIR
    else:
        stage = S.FAILED
    rungs = {rung: report.win_rate} if report.win_rate is not None else {}
    return Change(
        _move(
            row,
            stage,
            outcome=report.status,
            reason=report.reason or None,
            flags=list(report.flags),
            screen_win_rate=report.win_rate,
            rungs=rungs,
        )
    )


def evaluated(row: HypothesisRow, report: EvalReport, rung: str, last: bool) -> Change:
    """A later rung's result (``last``: the full budget, whose win rate is the full one)."""
    rungs = dict(row.rungs)
    if report.win_rate is not None:
        rungs[rung] = report.win_rate
    update: dict[str, Any] = {
        "outcome": report.status,
        "reason": report.reason or None,
        "flags": list(report.flags),
        "rungs": rungs,
    }
    if last:
        update["full_win_rate"] = report.win_rate
    return Change(_move(row, S.EVALUATED, **update))


def kept(row: HypothesisRow, report: EvalReport, tried: int) -> Change:
    """The keep decision on ``report``, the row's result on the highest rung it reached, with
    ``tried`` hypotheses measured so far (``keeps``)."""
    _require(row, *MEASURED)
    return Change(row.model_copy(update={"kept": keeps(report, tried)[0]}))


def confirmed(row: HypothesisRow, held: EvalReport, confirmations: int) -> Change:
    """A kept hypothesis's run on held-out splits and its verdict (``confirms``), logged."""
    _require(row, *MEASURED)
    if not row.kept:
        raise LifecycleError(f"hypothesis {row.id}: confirmation of a hypothesis not kept")
    verdict = confirms(held, confirmations)
    new = row.model_copy(update={"confirm_win_rate": held.win_rate, "confirmation": verdict})
    detail = {"id": row.id, "verdict": verdict.value, "win_rate": held.win_rate}
    return Change(new, Event("analyst", "confirmation", detail))


# -- the rules -----------------------------------------------------------------------------------
KEEP_RULE = (
    f"keep: lower bound of the win rate above 0.5 at level {ALPHA}/m (Bonferroni over the m "
    f"hypotheses measured so far); a discovery: kept, then confirmed on held-out splits at "
    f"{ALPHA}/k (k confirmation runs so far)"
)


def corrected_bound(report: EvalReport, tried: int) -> float | None:
    """The win rate's lower bound at ``ALPHA / tried`` over the report's (dataset, seed) cells;
    None for a task that reports no cells (its keep then rests on the 95% interval alone)."""
    return cells_bound(list(report.cell_win_rates.values()), tried)


def cells_bound(cells: list[float], tried: int) -> float | None:
    """The lower bound at ``ALPHA / tried`` over per-cell win rates; None for no cells."""
    return float(lower_bound(cells, corrected_alpha(tried))) if cells else None


def keeps(report: EvalReport, tried: int) -> tuple[bool, float | None]:
    """(keep, corrected bound): an OK, unflagged result whose corrected bound is above 1/2."""
    if report.status is not Outcome.OK or report.win_rate is None or report.flags:
        return False, None
    bound = corrected_bound(report, tried)
    if bound is None:
        return report.win_rate_ci is not None and report.win_rate_ci[0] > 0.5, None
    return bound > 0.5, bound


def confirms(report: EvalReport, confirmations: int) -> Confirmation:
    """The verdict of a confirmation run: confirmed when its win rate on the held-out splits is
    above 1/2 at ``ALPHA / confirmations`` and nothing is flagged, else why not."""
    if report.status is not Outcome.OK or report.win_rate is None:
        return Confirmation.failed(report.status)
    if report.flags:
        return Confirmation.FLAGGED
    cells = list(report.cell_win_rates.values())
    if cells:
        ok = lower_bound(cells, corrected_alpha(confirmations)) > 0.5
    else:
        ok = report.win_rate_ci is not None and report.win_rate_ci[0] > 0.5
    return Confirmation.CONFIRMED if ok else Confirmation.NOT_CONFIRMED


def discovery(row: HypothesisRow) -> bool:
    """Kept at selection and confirmed on held-out splits, and not a published component (the
    same or close to one): the only results called so."""
    return is_discovery(row.kept, row.confirmation, row.known)


def is_discovery(kept: Any, confirmation: Any, known: Any) -> bool:
    """``discovery`` on a row's three columns as stored (the dashboard reads them raw)."""
    return bool(kept) and confirmation == Confirmation.CONFIRMED and known is None


def finding(
    hypothesis: str,
    idea: str,
    report: EvalReport,
    tried: int = 1,
    row: HypothesisRow | None = None,
) -> Finding | None:
    """The analyst's table line for one result: keep by ``keeps`` (the decision already in the
    ledger ``row`` when there is one), the confirmation from ``row``; None without a win rate."""
    # Imported here: the ledger imports this module for the stage graph, and the analyst's module
    # brings the LLM client with it.
    from agents.analyst import Finding

    if report.win_rate is None or report.win_rate_ci is None:
        return None
    keep, bound = keeps(report, tried)
    if row is not None and row.kept is not None:
        keep = row.kept
    return Finding(
        hypothesis=hypothesis,
        idea="; ".join([idea, *(f"FLAGGED: {f}" for f in report.flags)]),
        win_rate=report.win_rate,
        ci=report.win_rate_ci,
        keep=keep,
        budget=report.budget,
        bound=bound,
        tried=tried,
        confirm_win_rate=None if row is None else row.confirm_win_rate,
        confirmation=None if row is None else row.confirmation,
    )
