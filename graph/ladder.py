"""The sandbox half of a round after selection: screening, the promotion ladder and
confirmation. Each node is idempotent like the others (``graph.nodes``): results come from the
ledger when they are there, and ``graph.experiments`` runs the rest, up to ``Deps.workers``
containers at once, recording each as it finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from core.records import EvalReport, HypothesisRow, Stage
from graph import experiments, gate, literature
from graph.deps import Deps
from graph.experiments import Experiment
from graph.state import CampaignState
from store import lifecycle


def screen(state: CampaignState, deps: Deps) -> dict:
    """One-pass screening of every selected hypothesis, up to ``deps.workers`` containers at
    once; code faults go back to the coder."""
    # Vetoed or sent back since it was probed: not launched.
    rows = [r for r in deps.rows(state["batch"]) if r.stage == Stage.SELECTED]
    rows = [r for r in rows if gate.cleared(deps, r)]
    budget = deps.settings.ladder[0]

    def record(exp: Experiment, report: EvalReport) -> None:
        row = deps.ledger.apply(lifecycle.screened(exp.row, report, budget, deps.settings.repairs))
        # Now that training says where the pre-activations went: a published function marked
        # only where they never go is that function (known), before promotion or any claim.
        literature.remark(deps, row)

    experiments.run(deps, [Experiment(r, budget) for r in rows], record)
    return {}


def evaluate(state: CampaignState, deps: Deps) -> dict:
    """The promotion ladder: each rung after screening runs the best of the rung before (by its
    win rate there), as many as the rung's survivor count, concurrently within the rung; the
    last rung is the full budget."""
    ladder = deps.settings.ladder
    for (before, rung), survivors in zip(pairwise(ladder), deps.settings.survivors(), strict=True):
        rows = [r for r in deps.rows(state["batch"]) if before in r.rungs and _promotable(deps, r)]
        rows.sort(key=lambda r: r.rungs[before], reverse=True)
        # A row with this rung ran before a crash (a failed run is found in the ledger instead).
        chosen = [Experiment(r, rung) for r in rows[:survivors] if rung not in r.rungs]
        experiments.run(deps, chosen, _rung_recorder(deps, rung, last=rung == ladder[-1]))
    return {}


def _promotable(deps: Deps, row: HypothesisRow) -> bool:
    """A published component is screened once as a reference point (``allow_known = "once"``),
    never promoted."""
    return deps.settings.allow_known == "yes" or not literature.published(row)


def _rung_recorder(deps: Deps, rung: str, last: bool) -> Callable[[Experiment, EvalReport], None]:
    def record(exp: Experiment, report: EvalReport) -> None:
        row = deps.ledger.apply(lifecycle.evaluated(exp.row, report, rung, last))
        literature.remark(deps, row)  # this rung's training may have gone elsewhere

    return record


def selection_report(deps: Deps, row: HypothesisRow) -> EvalReport | None:
    """The row's result on the highest rung of the ladder it reached, from the ledger."""
    source = deps.code_path(row.id)
    if not source.exists():
        return None
    for budget in reversed(deps.settings.ladder):
        report = deps.ledger.result(deps.evaluator.experiment_key(source.read_text(), budget))
        if report is not None:
            return report
    return None


def tried(deps: Deps) -> int:
    """Hypotheses of the campaign measured at selection: the m of the keep rule's correction
    (a duplicate reuses its original's result and is not counted again)."""
    rows = deps.ledger.hypotheses(deps.campaign)
    return sum(r.screen_win_rate is not None and r.stage != Stage.DUPLICATE for r in rows)


def confirm(state: CampaignState, deps: Deps) -> dict:
    """Decide keep for the round's measured hypotheses (corrected for how many were tried) and
    run each kept one at the last rung's budget on the task's held-out splits (concurrently)."""
    confirmer = deps.confirmer
    m = tried(deps)  # every row of the round is measured by now: one count serves them all
    queue: list[HypothesisRow] = []
    for row in deps.rows(state["batch"]):
        if row.stage not in lifecycle.MEASURED or row.confirmation is not None:
            continue
        report = selection_report(deps, row)
        if report is None:
            continue
        if row.kept is None:
            row = deps.ledger.apply(lifecycle.kept(row, report, m))
        if row.kept and confirmer is not None and deps.settings.confirm and _promotable(deps, row):
            queue.append(row)
    # The k of each confirmation's correction is fixed by the order of the rows, not by which
    # container finishes first: the verdicts do not depend on the number of workers.
    before = sum(r.confirmation is not None for r in deps.ledger.hypotheses(deps.campaign))
    k = {row.id: before + i + 1 for i, row in enumerate(queue)}

    def record(exp: Experiment, held: EvalReport) -> None:
        row = deps.ledger.apply(lifecycle.confirmed(exp.row, held, k[exp.row.id]))
        deps.notify("analyst", f"{row.id} {row.confirmation} on held-out splits")

    held_out = [Experiment(r, deps.settings.ladder[-1], confirmer) for r in queue]
    experiments.run(deps, held_out, record)
    return {}
