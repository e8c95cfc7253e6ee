"""Sandbox work of the nodes, exactly once and up to ``Deps.workers`` containers at a time.

An experiment is (hypothesis, budget, evaluator): its key (``evaluator.experiment_key``) names
its result in the ledger. ``run`` records a result already there without launching, launches
each missing key once (two rows with the same code share one run), and records each result
on the node's thread as its container finishes, so a kill loses only the runs in flight, which
a resumed node launches again. An infrastructure error is never recorded against a hypothesis:
the runs in flight finish and are recorded, then the error pauses the campaign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import InfraError
from core.records import EvalReport, HypothesisRow, Outcome
from graph.pool import fan_out

if TYPE_CHECKING:
    from graph.deps import Deps, TaskEvaluator


@dataclass(frozen=True)
class Experiment:
    row: HypothesisRow
    budget: str
    evaluator: TaskEvaluator | None = None  # None: the campaign's evaluator


def worker_name(deps: Deps, slot: int) -> str:
    """The live view's line for a sandbox worker: one line per worker when there are several."""
    return "sandbox" if deps.workers <= 1 else f"sandbox {slot}"


def run(
    deps: Deps,
    experiments: list[Experiment],
    record: Callable[[Experiment, EvalReport], None],
) -> None:
    """Run every experiment that has no result yet; ``record`` each result as it arrives."""
    groups: dict[str, list[Experiment]] = {}
    sources: dict[str, str] = {}
    for exp in experiments:
        evaluator = exp.evaluator or deps.evaluator
        source = deps.code_path(exp.row.id).read_text()
        key = evaluator.experiment_key(source, exp.budget)
        found = deps.ledger.result(key)
        if found is not None:
            record(exp, found)
            continue
        groups.setdefault(key, []).append(exp)
        sources[key] = source

    slots: dict[str, int] = {}

    def start(key: str, slot: int) -> Callable[[], EvalReport]:
        slots[key] = slot
        exp = groups[key][0]
        evaluator = exp.evaluator or deps.evaluator
        where = "" if evaluator is deps.evaluator else " on the held-out splits"
        deps.notify(worker_name(deps, slot), f"{exp.budget} evaluation of {exp.row.id}{where}")
        deps.ledger.add_usage(deps.campaign, launches=1)
        source = sources[key]
        return lambda: evaluator.evaluate(source, exp.budget)

    def done(key: str, report: EvalReport) -> None:
        first = groups[key][0]
        deps.notify(worker_name(deps, slots.get(key, 0)), "idle")
        if report.status is Outcome.INFRA_ERROR:
            # Never counted against the hypothesis: the campaign stops and can be resumed.
            raise InfraError(f"{first.row.id}: {report.reason}")
        deps.ledger.put_result(key, deps.campaign, first.row.id, report)
        for exp in groups[key]:
            record(exp, report)

    fan_out(list(groups), start, done, deps.workers)
