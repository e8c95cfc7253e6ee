"""Between validation and screening: what deserves compute.

``probe``  a short sandbox job per new hypothesis (one container each) runs only its property
           probe: code faults go back to the coder, the rest get a behavioural fingerprint.
``select`` behavioural duplicates (of this campaign or of the archive) reuse the original's result
           instead of running; the reward model ranks the rest and a diverse top-k goes on to
           screening; the others are pruned with their predicted score, so every decision can be
           audited in the ledger. A collapsed choice raises the alarm and turns the next round's
           proposer to novel ideas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from core.records import HypothesisRow, Stage
from graph import knowledge, literature
from graph.experiments import worker_name
from graph.pool import fan_out
from graph.state import CampaignState
from store import lifecycle
from store.lifecycle import Change

if TYPE_CHECKING:
    from graph.deps import Deps, Probes


def probe(state: CampaignState, deps: Deps) -> dict:
    """Probe every coded hypothesis of the round (``probe_code``) and mark those that behave
    like a published component (``graph.literature``)."""
    todo = [r for r in deps.rows(state["batch"]) if r.stage == Stage.CODED and r.code_sha]
    prober = probe_code(deps, todo)
    known = literature.known_components(deps) if todo and prober is not None else []
    for row in todo:
        found = deps.ledger.probe(deps.campaign, row.id, row.code_sha or "")
        problem, fp = found or (None, None)
        row = lifecycle.probed(row, problem, deps.settings.repairs).row
        if row.stage == Stage.PROBED:
            row = row.model_copy(update=literature.mark(deps, row, fp, known))
        deps.ledger.save(row)
    return {}


def probe_code(deps: Deps, rows: list[HypothesisRow]) -> Probes | None:
    """Probe each of ``rows`` not yet probed in its present code version, one container each,
    up to ``deps.workers`` at once, each recorded as it finishes (a version probed for the
    critic is not probed again); return the task's prober (None: the task has none)."""
    missing = [r for r in rows if _stale(deps.ledger.probe(deps.campaign, r.id, r.code_sha or ""))]
    prober = deps.prober
    if prober is None:  # a task without a probe: no fingerprints, screening decides
        for r in missing:
            deps.ledger.put_probe(deps.campaign, r.id, r.code_sha or "", None, None)
        return None

    def start(row: HypothesisRow, slot: int) -> Callable[[], dict[str, Any]]:
        deps.notify(worker_name(deps, slot), f"probing {row.id}")
        deps.ledger.add_usage(deps.campaign, launches=1)
        source = deps.code_path(row.id).read_text()
        return lambda: prober.probe_many({row.id: source})

    def done(row: HypothesisRow, found: dict[str, Any]) -> None:
        got = found[row.id]
        deps.ledger.put_probe(
            deps.campaign, row.id, row.code_sha or "", got.problem, got.fingerprint
        )

    fan_out(missing, start, done, deps.workers)
    return prober


def _stale(found: tuple[str | None, list[float] | None] | None) -> bool:
    """Whether a probe is missing, or left a fingerprint of an earlier version (probed again)."""
    from evaluators.fingerprint import current

    return found is None or (found[1] is not None and current(found[1]) is None)


def _fingerprint(deps: Deps, row: HypothesisRow) -> list[float] | None:
    """The fingerprint of ``row``'s probe; None for none, or for one of an earlier version (the
    fixed-grid fingerprints of an older ledger compare with nothing)."""
    from evaluators.fingerprint import current

    found = deps.ledger.probe(deps.campaign, row.id, row.code_sha or "")
    return found[1] if found and current(found[1]) is not None else None


Known = list[tuple[HypothesisRow, list[float] | None]]  # earlier hypotheses, fingerprints


# Stages of earlier hypotheses whose behaviour a new one may duplicate (they ran, or will).
MEASURABLE = (Stage.SELECTED, Stage.SCREENED, Stage.EVALUATED, Stage.FAILED)
UNPROBED = (Stage.DUPLICATE, Stage.INVALID, Stage.REJECTED, Stage.PROPOSED, Stage.NEEDS_REPAIR)
CHOSEN = (Stage.SELECTED, Stage.SCREENED, Stage.EVALUATED)


def local_twin(
    fp: list[float], earlier: Known, reaches: dict[str, Any] | None = None
) -> HypothesisRow | None:
    """The first earlier hypothesis of the campaign that behaves exactly like ``fp``, or None.
    ``reaches``: where each earlier one's screening sent its pre-activations, by id
    (``screening_reach``); compared there, since a function equal to it there trains exactly as
    it did, so its result may be reused (else on the whole window)."""
    from evaluators.fingerprint import same_behaviour

    mine = np.asarray(fp)
    for other, theirs in earlier:
        reach = (reaches or {}).get(other.id)
        if theirs is not None and same_behaviour(mine, np.asarray(theirs), reach=reach):
            return other
    return None


def screening_reach(deps: Deps, row: HypothesisRow) -> tuple[float, ...] | None:
    """The ``reach`` of ``row``'s screening result (the one a duplicate reuses), or None."""
    path = deps.code_path(row.id)
    if row.screen_win_rate is None or not path.exists():
        return None
    report = deps.ledger.result(
        deps.evaluator.experiment_key(path.read_text(), deps.settings.ladder[0])
    )
    return None if report is None else report.reach


def open_slots(rows: list[HypothesisRow], k: int) -> int:
    """How many of the round's top ``k`` places are still free: after a crash mid-way, or for a
    repaired hypothesis, those already chosen keep their places (at least one is always free)."""
    return max(1, k - sum(r.stage in CHOSEN for r in rows))


def ranked(
    row: HypothesisRow,
    i: int,
    chosen: list[int],
    mean: np.ndarray,
    std: np.ndarray,
    model_used: bool,
    k: int,
) -> Change:
    """Candidate ``row`` (the ``i``-th) after ranking: selected, or pruned with the reason (its
    prediction, or that there is no reward model yet)."""
    predicted = float(mean[i]) if model_used else None
    if i in chosen:
        return lifecycle.selected(row, predicted)
    why = (
        f"predicted win rate {mean[i]:.2f} ± {std[i]:.2f}"
        if model_used
        else "no reward model yet (too few measured hypotheses)"
    )
    return lifecycle.pruned(row, f"pruned: {why}, not in the diverse top {k}", predicted)


def _twin(deps: Deps, row: HypothesisRow, fp: list[float], earlier: Known) -> Any:
    """(pointer, win rate) of a hypothesis that behaves exactly like ``row``: in this campaign
    first, then in the archive; None when there is none."""
    reaches = {r.id: screening_reach(deps, r) for r, f in earlier if f is not None}
    other = local_twin(fp, earlier, reaches)
    if other is not None:
        return f"{deps.campaign}/{other.id}", other.screen_win_rate
    if deps.archive is not None:
        twin = deps.archive.behaviour_twin(fp, task=deps.task)
        if twin is not None and twin.id != f"{deps.campaign}/{row.id}":
            return twin.id, twin.win_rate
    return None


# The ledger event that names a row given to the campaign as a reference point (``hypoforge run
# --reference``): the user asked for this campaign's own figure of it, so it is measured here,
# never replaced by an archived twin nor left out by ``allow_known = "never"``.
REFERENCE = "reference"


def references(deps: Deps) -> set[str]:
    """The ids of the campaign's reference points (the ``REFERENCE`` events)."""
    return {json.loads(d)["id"] for _, _, d in deps.ledger.events(deps.campaign, REFERENCE)}


def select(state: CampaignState, deps: Deps) -> dict:
    """De-duplicate by behaviour, rank with the reward model, keep a diverse top-k."""
    rows = deps.rows(state["batch"])
    given = references(deps)
    # Each fingerprint is read from the ledger once, not once per candidate.
    earlier: Known = [
        (r, _fingerprint(deps, r))
        for r in deps.ledger.hypotheses(deps.campaign)
        if r.stage not in UNPROBED and r.id not in state["batch"]
    ]
    candidates: Known = []
    for row in rows:
        if row.stage != Stage.PROBED:
            if row.stage in MEASURABLE:
                earlier.append((row, _fingerprint(deps, row)))
            continue
        fp = _fingerprint(deps, row)
        twin = _twin(deps, row, fp, earlier) if fp is not None and row.id not in given else None
        if twin is not None:
            pointer, win = twin
            deps.ledger.apply(lifecycle.duplicate(row, pointer, win))
            continue
        if (
            literature.published(row)
            and deps.settings.allow_known == "never"
            and row.id not in given
        ):
            reason = f"{row.known}, a published component (allow_known = never): not run"
            deps.ledger.apply(lifecycle.pruned(row, reason))
            continue
        earlier.append((row, fp))
        candidates.append((row, fp))
    if not candidates:
        return {"explore": False}
    from evaluators.reward import collapse
    from evaluators.reward import select as choose

    items = [(r, deps.code_path(r.id).read_text(), fp) for r, fp in candidates]
    mean, std, model_used = knowledge.predict(deps, items)
    vectors = [None if fp is None else np.asarray(fp) for _, fp in candidates]
    k = deps.settings.screen_top_k
    chosen = choose(mean, std, vectors, open_slots(rows, k), bonus=deps.settings.exploration)
    for i, (row, _) in enumerate(candidates):
        deps.ledger.apply(ranked(row, i, chosen, mean, std, model_used, k))
    kept = ", ".join(candidates[i][0].id for i in chosen)
    how = "by the reward model" if model_used else "for diversity (no reward model yet)"
    deps.notify("reward", f"kept {kept} of {len(candidates)} {how}")
    deps.ledger.log(
        deps.campaign,
        "reward",
        "ranked",
        {
            "ids": [r.id for r, _ in candidates],
            "mean": [round(float(m), 4) for m in mean],
            "std": [round(float(s), 4) for s in std],
            "chosen": [candidates[i][0].id for i in chosen],
        },
    )
    alarm = collapse(mean if model_used else None, [vectors[i] for i in chosen])
    if alarm:
        deps.ledger.log(deps.campaign, "reward", "collapse", alarm)
        deps.notify("reward", f"reward collapse: {alarm}; next round proposes novel ideas")
    return {"explore": bool(alarm)}
