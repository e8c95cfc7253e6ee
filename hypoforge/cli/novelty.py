"""``hypoforge novelty "IDEA"``: what an idea may already be, before a campaign spends on it.

The task's catalogue of published components by description (always), by behaviour when
``--code`` is given (its probe in the sandbox against the catalogue's fingerprints, on the
whole window: a probe does not train, so it cannot know where a network sends this function's
inputs; a campaign decides again on that once it is screened, ``graph.literature.remark``), the
archive's nearest hypotheses of earlier campaigns, and with ``--online`` the papers Semantic
Scholar and OpenAlex return for the idea (cached; a check that cannot finish says why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import ConfigError, HypoforgeError
from core.text import cell, clean
from hypoforge.cli.common import (
    ConfigOpt,
    fail,
    load_settings,
    out,
    read_text,
    session,
    spinner,
    task_evaluator,
)


def novelty_cmd(
    idea: Annotated[str, typer.Argument(help="The idea, in words.")],
    code: Annotated[
        Path | None, typer.Option("--code", help="Its code: probed in the sandbox, by behaviour.")
    ] = None,
    task: Annotated[str, typer.Option(help="Research task.")] = "activation",
    online: Annotated[
        bool, typer.Option("--online", help="Also search Semantic Scholar and OpenAlex.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Check whether an idea is already known, before a campaign spends on it.

    Shows the published components and earlier hypotheses it resembles, and with --online
    the papers Semantic Scholar and OpenAlex return. With --code it is also probed in the
    sandbox (then needs Docker)."""
    from evaluators import registry
    from graph import literature
    from literature.scholar import Scholar

    try:
        plugin = registry.get(task)
        settings = load_settings(config)
        source = read_text(code) if code is not None else None
        if not idea.strip():
            raise ConfigError("the idea is empty")
    except HypoforgeError as exc:
        raise fail(exc) from None
    found: dict[str, Any] = {
        "by_text": [
            {"name": c.name, "similarity": round(sim, 3), "citation": c.reference.cite()}
            for c, sim in literature.text_matches(plugin.folder, idea)
        ]
    }
    if source is not None:
        found["by_behaviour"] = _by_behaviour(plugin, config, source, quiet=as_json)
    found["archive"] = _archive(settings, idea, source or "", task)
    if online:
        with Scholar.from_settings(settings.literature, settings.home) as scholar:
            check = scholar.search(idea)
        found["papers"] = [p.model_dump(exclude={"abstract"}) for p in check.papers]
        found["skipped"] = check.skipped
    if as_json:
        print(json.dumps(found))
        return
    _print(found)


def _by_behaviour(plugin: Any, config: Path | None, source: str, quiet: bool) -> dict[str, Any]:
    """The probe of ``source`` in the sandbox and the published component it behaves like."""
    from evaluators import catalogue
    from graph import literature
    from graph.deps import Probes

    with session(config) as (settings, sandbox), spinner(quiet) as notify:
        evaluator = task_evaluator(plugin, settings, sandbox, notify)
        problem = evaluator.static_problem(source)
        if problem is not None:
            return {"problem": f"fails the static check: {problem}"}
        if not isinstance(evaluator, Probes):
            return {"problem": f"the {plugin.name} task has no probe: matched by text only"}
        cache = settings.home / "catalogue" / f"{plugin.name}.json"
        known = literature.fingerprints(plugin.folder, evaluator, evaluator, cache)
        probe = evaluator.probe_many({"candidate": source})["candidate"]
    if probe.fingerprint is None:
        return {"problem": f"its probe failed: {probe.problem}"}
    match = catalogue.match(probe.fingerprint, known)
    if match is None:
        return {"match": None, "compared": COMPARED}
    component, kind, gap = match
    return {
        "match": f"{'same as' if kind == 'same' else 'close to'} {component.name}",
        "gap": round(gap, 5),
        "citation": component.reference.cite(),
        "compared": COMPARED,
    }


# What the match reads, said with it: no reach without training (evaluators/fingerprint.py).
COMPARED = (
    "probe only: the whole window [-4.95, 4.95]; a function marked only where training never "
    "goes is matched in a campaign once screening shows where its pre-activations went"
)


def _archive(settings: Any, idea: str, code: str, task: str) -> list[dict[str, Any]]:
    """The nearest hypotheses of earlier campaigns in the archive (none when it is empty)."""
    path = settings.home / "archive"
    if not path.exists():
        return []
    from evaluators.novelty import NoveltyArchive

    return [
        {"id": n.id, "idea": n.idea, "outcome": n.outcome, "win_rate": n.win_rate,
         "distance": round(n.distance, 3)}
        for n in NoveltyArchive(path).nearest(idea, code, 5, task=task)
    ]  # fmt: skip


def _print(found: dict[str, Any]) -> None:
    out.print("Published components by description (the task's catalogue):")
    for m in found["by_text"] or [{"name": None}]:
        if m["name"] is None:
            out.print("  none similar")
            continue
        line = f"  {m['name']} (similarity {m['similarity']:.2f}): {m['citation']}"
        out.print(line, markup=False, soft_wrap=True)
    if "by_behaviour" in found:
        b = found["by_behaviour"]
        text = b.get("problem") or (
            f"{b['match']} (largest difference {b['gap']}): {b['citation']}"
            if b.get("match")
            else "behaves like no published component of the catalogue"
        )
        out.print(f"By behaviour (its probe): {text}", markup=False, soft_wrap=True)
        if b.get("compared"):
            out.print(f"  compared on: {b['compared']}", markup=False, soft_wrap=True)
    out.print("Nearest earlier hypotheses (the archive):")
    for n in found["archive"] or [None]:
        if n is None:
            out.print("  none")
            continue
        rate = "-" if n["win_rate"] is None else f"{n['win_rate']:.3f}"
        line = f"  {n['id']} {cell(n['idea'], 60)} ({n['outcome']}, win rate {rate})"
        out.print(line, markup=False, soft_wrap=True)
    if "papers" in found:
        if found["skipped"]:
            out.print(clean(found["skipped"]), markup=False, soft_wrap=True)
        out.print("Papers (Semantic Scholar, OpenAlex):")
        for p in found["papers"][:10] or [None]:
            if p is None:
                out.print("  none found")
                continue
            where = f"doi:{p['doi']}" if p.get("doi") else (p.get("arxiv") or p["id"])
            line = f"  {cell(p['title'], 90)} ({p.get('year') or 'n.d.'}) {where}"
            out.print(line, markup=False, soft_wrap=True)
