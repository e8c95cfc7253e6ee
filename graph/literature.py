"""Known components: a probed hypothesis that behaves like a published one of the task's catalogue
(``evaluators/catalogue.py``, each task's ``catalogue.toml``) is marked in the ledger with the
citation ("same as Mish", "close to SiLU"), whatever it is called in its idea.

The catalogue's entries with code are probed in the sandbox like any hypothesis (the same probe,
so the fingerprints compare), once per harness version and home: their fingerprints are cached
in ``HOME/catalogue/<task>.json`` under each entry's experiment key, which names the harness
version and splits. What a campaign does with a known component is ``[campaign] allow_known``:
"once" (default) screens it as a reference point but promotes it no further and never confirms
it; "yes" treats it like any other; "never" does not run it. A component the catalogue names is
never a discovery (``store.lifecycle.discovery``).

The mark is first decided on the probe (the whole window of the fingerprint), before the
critic; once a result of the hypothesis exists it is decided again where its training sent the
pre-activations (``remark``, after screening and each rung): a published function marked only
where no network of the job goes trains exactly like it, and is called it from then on.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.records import HypothesisRow
from evaluators import catalogue
from evaluators.fingerprint import current
from graph.experiments import worker_name

if TYPE_CHECKING:
    from graph.deps import Deps

Known = list[tuple[catalogue.Component, list[float]]]


def published(row: HypothesisRow) -> bool:
    """Whether ``row`` behaves like a published component, the same or close to it (within
    ``catalogue.CLOSE_TOLERANCE``: that function with a constant nudged, as far as a network
    can tell): a reference point, never a discovery."""
    return row.known is not None


def known_components(deps: Deps) -> Known:
    """The task's catalogue entries with code, each with its fingerprint (probed once)."""

    def launching(count: int) -> None:
        deps.notify(worker_name(deps, 0), f"probing {count} published components")
        deps.ledger.add_usage(deps.campaign, launches=1)

    cache = (deps.home or deps.folder) / "catalogue" / f"{deps.task}.json"
    return fingerprints(deps.task_dir, deps.prober, deps.evaluator, cache, launching)


def fingerprints(
    task_dir: Path,
    prober: Any,
    evaluator: Any,
    cache_path: Path,
    launching: Callable[[int], None] = lambda count: None,
) -> Known:
    """The catalogue's entries with code and their fingerprints: from ``cache_path`` (keyed by
    each entry's experiment key, which names the harness version), the missing ones probed
    in one sandbox job (``launching(count)`` is called before it). Empty without a prober."""
    entries = [c for c in catalogue.load(task_dir) if c.code]
    if not entries or prober is None:
        return []
    cache = _read(cache_path)
    keys = {c.name: evaluator.experiment_key(c.code or "", "one-pass") for c in entries}
    missing = [c for c in entries if keys[c.name] not in cache]
    if missing:  # one container for all: the catalogue's code is ours, not a hypothesis
        launching(len(missing))
        found = prober.probe_many({c.name: c.code or "" for c in missing}, together=True)
        for c in missing:
            probe = found.get(c.name)
            # None: it failed its probe (a harness change); kept so it is not probed again
            cache[keys[c.name]] = None if probe is None else probe.fingerprint
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_path)
    return [(c, fp) for c in entries if (fp := cache.get(keys[c.name]))]


def _read(path: Path) -> dict[str, list[float] | None]:
    """The cache; an unreadable file or entry, or a fingerprint of an earlier version, counts as
    not probed (it is probed again)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}

    def fingerprint(v: Any) -> bool:  # of this version: a fixed-grid one is probed again
        return v is None or (
            isinstance(v, list)
            and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                for x in v
            )
            and current(v) is not None
        )

    return {k: v for k, v in data.items() if isinstance(k, str) and fingerprint(v)}


def mark(
    deps: Deps,
    row: HypothesisRow,
    fp: list[float] | None,
    known: Known,
    reaches: Sequence[Sequence[float]] = (),
) -> dict:
    """The ledger update for ``row``: the published component its behaviour matches, if any (a
    repaired version that no longer matches loses the mark). Logged when it changes.

    ``reaches`` (of its results, ``reaches_of``): matched where each training run went, and on
    the whole window; the nearest match counts. A function that trained like a published one
    in any run of it is that one."""
    if fp is not None and current(fp) is None:
        return {}  # a fingerprint of an earlier version says nothing either way: keep the mark
    found = None
    if fp is not None and known:
        tries = [catalogue.match(fp, known, list(r)) for r in reaches]
        found = min(
            (f for f in [*tries, catalogue.match(fp, known)] if f), key=lambda f: f[2], default=None
        )
    if found is None:
        if row.known:  # a repaired version that no longer behaves like it
            deps.ledger.log(deps.campaign, "literature", "known", {"id": row.id, "known": None})
            return {"known": None, "citation": None}
        return {}
    component, kind, gap = found
    label = f"{'same as' if kind == 'same' else 'close to'} {component.name}"
    citation = component.reference.cite()
    if label != row.known:
        detail = {"id": row.id, "known": label, "gap": round(gap, 5), "citation": citation}
        deps.ledger.log(deps.campaign, "literature", "known", detail)
        deps.notify("critic", f"{row.id} is {label} ({citation[:60]})")
    return {"known": label, "citation": citation}


def reaches_of(deps: Deps, row: HypothesisRow) -> list[tuple[float, ...]]:
    """Where each training run of ``row``'s present code sent its pre-activations: the
    ``reach`` of its results on the ladder's rungs (from the ledger); none without a result, or
    for results of an earlier version, which did not record it."""
    path = deps.code_path(row.id)
    if not path.exists():
        return []
    code = path.read_text()
    found = [
        deps.ledger.result(deps.evaluator.experiment_key(code, b)) for b in deps.settings.ladder
    ]
    return [r.reach for r in found if r is not None and r.reach is not None]


def remark(deps: Deps, row: HypothesisRow) -> HypothesisRow:
    """``row`` with its known mark decided again now that results say where its training went
    (``mark`` with ``reaches_of``), saved when it changes: what promotion, confirmation and
    every claim (discovery, status, report, paper) read. A result adds a mark or names a nearer
    component, never removes one. Unchanged without a probe or a recorded reach."""
    probed = deps.ledger.probe(deps.campaign, row.id, row.code_sha or "")
    reaches = reaches_of(deps, row)
    if not probed or probed[1] is None or not reaches or deps.prober is None:
        return row
    update = mark(deps, row, probed[1], known_components(deps), reaches)
    if not update.get("known") or update["known"] == row.known:
        return row
    row = row.model_copy(update=update)
    deps.ledger.save(row)
    return row


TEXT_SIMILARITY = 0.5  # cosine similarity of an idea to a description still shown to the critic
TEXT_MATCHES = 3
_DESCRIBED: dict[Path, tuple[list[catalogue.Component], Any]] = {}
_DESCRIBED_LOCK = threading.Lock()


def text_matches(task_dir: Path, idea: str) -> list[tuple[catalogue.Component, float]]:
    """The catalogue's components whose description is nearest in meaning to ``idea`` (the
    embeddings of ``evaluators.novelty``), most similar first, at least ``TEXT_SIMILARITY``:
    how an idea is matched to components without code, and to any under its own name."""
    import numpy as np

    from evaluators.novelty import embed

    with _DESCRIBED_LOCK:  # the descriptions are embedded once per process and task
        if task_dir not in _DESCRIBED:
            entries = catalogue.load(task_dir)
            texts = [f"{c.name}: {c.description}" for c in entries]
            _DESCRIBED[task_dir] = (entries, np.asarray(embed(texts)) if entries else None)
        entries, vectors = _DESCRIBED[task_dir]
    if not entries or not idea.strip():
        return []
    sims = vectors @ np.asarray(embed([idea[:2000]])[0])
    order = [int(i) for i in np.argsort(-sims)[:TEXT_MATCHES]]
    return [(entries[i], float(sims[i])) for i in order if sims[i] >= TEXT_SIMILARITY]


def for_critic(deps: Deps, row: HypothesisRow) -> list[str]:
    """What the critic is told of the literature: the published component the proposal behaves
    like (its probe, ``mark``), and those its idea reads like; both logged."""
    lines = []
    if row.known:
        how = "exactly like" if published(row) else "close to"
        name = row.known.split(" ", 2)[-1]
        lines.append(f"it behaves {how} {name} (measured by its probe): {row.citation}")
    found = text_matches(deps.task_dir, row.idea)
    if found:
        deps.ledger.log(
            deps.campaign,
            "literature",
            "text",
            {"id": row.id, "matches": [[c.name, round(sim, 3)] for c, sim in found]},
        )
    for c, sim in found:
        lines.append(f"its idea reads like {c.name} (similarity {sim:.2f}): {c.reference.cite()}")
    return lines


def searched(found: Any) -> str:
    """The online search's outcome (``agents.literature.Novelty``) in one line for the critic."""
    if found.decision == "skipped":
        return found.reason  # "literature check skipped: REASON"
    cited = "; ".join(f"[{p.id}] {p.title} ({p.year or 'n.d.'})" for p in found.hits)
    queries = ", ".join(f'"{q}"' for q in found.queries) or "none"
    verdict = {"not novel": "not novel", "novel": "novel"}.get(found.decision, "undecided")
    return (
        f"a literature search (queries {queries}) found it {verdict}"
        + (f", resting on {cited}" if cited else "")
        + (f": {found.reason}" if found.reason else "")
    )


def record_search(deps: Deps, row: HypothesisRow, found: Any) -> None:
    """Every search, dropped citation and the decision as ledger events, with the hits."""
    for event in found.events:
        kind = str(event.get("kind") or "search")
        deps.ledger.log(deps.campaign, "literature", kind, {"id": row.id, **event})
    deps.notify("critic", f"{row.id}: literature {found.decision}")
