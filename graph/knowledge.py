"""What the campaign knows beyond itself: the cross-campaign novelty archive (Chroma).

The critic is shown each proposal's nearest archived ideas and how they did; every hypothesis
that reached an outcome is added at the end of its round (losers and crashes included), with its
behavioural fingerprint when the sandbox produced one. Without an archive these do nothing.
The proposer is told the best results (the campaign's and the archive's), recent failures and
how past predictions turned out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents import proposer
from core.records import HypothesisRow, NeverRan, Outcome, Stage
from evaluators.reward import FLAGGED

if TYPE_CHECKING:
    from graph.deps import Deps

NEIGHBOURS = 3
MAX_TRAIN = 800  # newest archived examples the reward model learns from each round


def neighbours(deps: Deps, row: HypothesisRow, code: str) -> list[str]:
    """The nearest archived ideas, in words for the critic's prompt (and logged with ids)."""
    if deps.archive is None:
        return []
    found = [
        n
        for n in deps.archive.nearest(row.idea, code, NEIGHBOURS + 1, task=deps.task)
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
    """Add every hypothesis of the round that has an outcome to the archive (idempotent).

    Behavioural duplicates stay out: the original stands for them.
    """
    from evaluators.novelty import ArchiveEntry

    if deps.archive is None:
        return
    for row in rows:
        path = deps.code_path(row.id)
        if row.outcome in (None, NeverRan.DUPLICATE, NeverRan.VETOED) or not path.exists():
            continue
        code = path.read_text()
        report = deps.ledger.result(deps.evaluator.experiment_key(code, "one-pass"))
        fingerprint = deps.evaluator.behaviour(report) if report is not None else None
        if fingerprint is None:
            probed = deps.ledger.probe(deps.campaign, row.id, row.code_sha or "")
            fingerprint = probed[1] if probed else None
        deps.archive.add(
            ArchiveEntry(
                id=f"{deps.campaign}/{row.id}",
                task=deps.task,
                campaign=deps.campaign,
                generator=deps.generator,
                idea=row.idea,
                code=code,
                outcome=FLAGGED if row.flagged else row.outcome,
                win_rate=row.selection_win_rate,
                screen_win_rate=row.screen_win_rate,
                fingerprint=fingerprint,
                reach=None if report is None or report.reach is None else list(report.reach),
            )
        )


def best_archived(deps: Deps, exclude: set[str], k: int = 5) -> list[tuple[str, float]]:
    """The best measured ideas of the archive (all campaigns), for the proposer's prompt; flagged
    results are not leads (outcome ``flagged``, not ``ok``)."""
    if deps.archive is None:
        return []
    found = [
        (e.idea, float(e.win_rate))
        for e in deps.archive.measured(deps.task)
        if e.outcome == Outcome.OK and e.win_rate is not None and e.idea not in exclude
    ]
    return sorted(found, key=lambda f: f[1], reverse=True)[:k]


def predict(
    deps: Deps, items: list[tuple[HypothesisRow, str, list[float] | None]]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(mean, std, fitted) of the predicted win rate of each (row, code, fingerprint), from a
    reward model refitted on the archive; zeros and False while it knows too little."""
    from evaluators import reward
    from evaluators.novelty import embed

    zeros = np.zeros(len(items))
    if deps.archive is None or not items:
        return zeros, zeros, False
    known = [e for e in deps.archive.examples(deps.task) if e.rankable]
    model = reward.trained(known[-MAX_TRAIN:], deps.settings.reward_model)
    if model is None:
        return zeros, zeros, False
    vectors = embed([f"{row.idea}\n{code}" for row, code, _ in items])
    candidates = [
        reward.Example(
            id=row.id,
            idea=row.idea,
            code=code,
            embedding=np.asarray(vec),
            fingerprint=None if fp is None else np.asarray(fp),
        )
        for (row, code, fp), vec in zip(items, vectors, strict=True)
    ]
    mean, std = model.predict(candidates)
    return mean, std, True


def for_proposer(deps: Deps) -> dict:
    """What the proposer is told: the best results so far (this campaign's and the archive's;
    flagged ones are not leads), recent failures, and how past predictions turned out."""
    rows = deps.ledger.hypotheses(deps.campaign)
    scored = [r for r in rows if r.screen_win_rate is not None and r.stage != Stage.DUPLICATE]
    # Only an OK result is a lead: not one the harness flagged (a bigger model, say), not one that
    # failed on a later rung of the ladder.
    known = [
        (r.idea, r.selection_win_rate or 0.0)
        for r in scored
        if r.outcome == Outcome.OK and not r.flagged
    ]
    known += best_archived(deps, exclude={r.idea for r in scored})
    known.sort(key=lambda k: k[1], reverse=True)
    best = [proposer.KnownResult(idea=idea, win_rate=wr) for idea, wr in known[:5]]
    failed = [r for r in rows if r.outcome not in (None, Outcome.OK, NeverRan.PRUNED) or r.flagged][
        -5:
    ]
    failures = [f"{r.idea}: {r.outcome} ({(r.reason or '; '.join(r.flags))[:120]})" for r in failed]
    judged = [r for r in scored if r.p_win is not None][-3:]
    predictions = [
        f"{r.idea}: critic predicted {r.p_win:.2f} chance to win, measured win rate "
        f"{r.screen_win_rate:.2f}"
        for r in judged
    ]
    ranked = [r for r in rows if r.predicted is not None][-6:]
    predictions += [
        f"{r.idea}: reward model predicted win rate {r.predicted:.2f}, "
        + (
            f"measured {r.screen_win_rate:.2f}"
            if r.screen_win_rate is not None
            else "pruned before running"
        )
        for r in ranked
    ]
    return {"best": best, "failures": failures, "predictions": predictions}
