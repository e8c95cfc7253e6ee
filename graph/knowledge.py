"""What the campaign knows beyond itself: the cross-campaign novelty archive (Chroma).

The critic is shown each proposal's nearest archived ideas and how they did; every hypothesis
that reached an outcome is added at the end of its round (losers and crashes included), with its
behavioural fingerprint when the sandbox produced one. Without an archive these do nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypoforge.ledger import HypothesisRow

if TYPE_CHECKING:
    from graph.nodes import Deps

NEIGHBOURS = 3
TASK = "activation"


def neighbours(deps: Deps, row: HypothesisRow, code: str) -> list[str]:
    """The nearest archived ideas, in words for the critic's prompt (and logged with ids)."""
    if deps.archive is None:
        return []
    found = [
        n
        for n in deps.archive.nearest(row.idea, code, NEIGHBOURS + 1, task=TASK)
        if n.id != f"{deps.campaign}/{row.id}"
    ][:NEIGHBOURS]
    deps.ledger.log(
        deps.campaign,
        "archive",
        "neighbours",
        {"id": row.id, "neighbours": [[n.id, round(n.distance, 4)] for n in found]},
    )
    return [
        f"{n.idea} (outcome {n.outcome}"
        + (f", win rate {n.win_rate:.2f}" if n.win_rate is not None else "")
        + f", distance {n.distance:.2f})"
        for n in found
    ]


def remember(deps: Deps, rows: list[HypothesisRow]) -> None:
    """Add every hypothesis of the round that has an outcome to the archive (idempotent)."""
    from evaluators.novelty import ArchiveEntry

    if deps.archive is None:
        return
    for row in rows:
        path = deps.code_path(row.id)
        if row.outcome is None or not path.exists():
            continue
        code = path.read_text()
        report = deps.ledger.result(deps.evaluator.experiment_key(code, "one-pass"))
        fingerprint = deps.evaluator.behaviour(report) if report is not None else None
        deps.archive.add(
            ArchiveEntry(
                id=f"{deps.campaign}/{row.id}",
                task=TASK,
                campaign=deps.campaign,
                generator=deps.generator,
                idea=row.idea,
                code=code,
                outcome=row.outcome,
                win_rate=row.full_win_rate or row.screen_win_rate,
                fingerprint=fingerprint,
            )
        )
