"""``hypoforge fidelity``: how far cheap screening can be trusted, measured on a sample of the
archive's hypotheses at each budget and on the confirmation splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import HypoforgeError
from hypoforge.cli.common import (
    ConfigOpt,
    err,
    fail,
    load_settings,
    out,
    session,
    spinner,
    task_evaluator,
)


def fidelity_cmd(
    task: Annotated[str, typer.Argument(help="Research task.")],
    sample: Annotated[int, typer.Option(min=1, help="Archived hypotheses to measure.")] = 20,
    budgets: Annotated[
        str, typer.Option(help="Budgets to compare, comma-separated, cheapest first.")
    ] = "one-pass,short,full",
    archive: Annotated[
        Path | None, typer.Option(help="Chroma archive folder (default: HOME/archive).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random sample.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Measure whether cheap budgets rank hypotheses the way the full budget does.

    Re-runs archived hypotheses and reports the rank agreement (Kendall, Spearman, 95% CIs) of
    their win rates between budgets and between seed sets; the result is stored per harness
    version for `hypoforge reward eval`. Needs Docker and the sandbox image."""
    from evaluators import fidelity, registry

    try:
        plugin = registry.get(task)
        names = fidelity.check_budgets([b.strip() for b in budgets.split(",")])
        settings = load_settings(config)
        where = archive or settings.home / "archive"
        sources = fidelity.sample_archive(where, task, sample, seed)
    except HypoforgeError as exc:
        raise fail(exc) from None
    if not as_json:
        err.print(
            f"{len(sources)} measured hypotheses of {task} from {where} (seed {seed})",
            markup=False,
            soft_wrap=True,
        )
    with session(config) as (settings, sandbox):
        with spinner(as_json) as update:
            current = [""]  # the evaluation under way, for the evaluator's own stage messages

            def progress(step: str) -> None:
                current[0] = step
                update(step)

            def stage(message: str) -> None:
                update(f"{current[0]}: {message}" if current[0] else message)

            evaluator = task_evaluator(plugin, settings, sandbox, stage)
            result = fidelity.measure(evaluator, sources, names, notify=progress)
        stored = fidelity.save(settings.home, result)
    if as_json:
        print(json.dumps(result))
        return
    out.print(fidelity.render(result))
    for hid, why in result["dropped"].items():
        out.print(f"dropped {hid}: {why}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"stored: {stored}", markup=False, highlight=False, soft_wrap=True)
