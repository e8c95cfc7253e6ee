"""``hypoforge reproduce DIR HYPOTHESIS``: re-run a scored hypothesis from its bundle and say
whether its accuracies came out the same, bit for bit (exit 1 when they did not)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import HypoforgeError
from core.records import Outcome
from core.text import cell, clean
from hypoforge.cli.common import ConfigOpt, fail, out, session, spinner, task_evaluator

if TYPE_CHECKING:
    from hypoforge.reproduce import Reproduction


def reproduce_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    hypothesis: Annotated[str, typer.Argument(help="Hypothesis id (see `hypoforge status`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Re-run a scored hypothesis and check that its accuracies come out the same.

    Exit 1 when an accuracy differs. Needs Docker and the sandbox image.

    The bundle (DIR/bundles/HYPOTHESIS/) holds the code and what the ledger recorded; the re-run
    is a fresh sandbox job at the budget and on the splits it was scored on."""
    from evaluators import registry
    from hypoforge import reproduce

    try:
        path = reproduce.write_bundle(folder, hypothesis)
        found = reproduce.load_bundle(path)
        plugin = registry.get(found.task)
    except HypoforgeError as exc:
        raise fail(exc) from None
    with session(config) as (settings, sandbox), spinner(as_json) as notify:
        evaluator = task_evaluator(plugin, settings, sandbox, notify, split_set=found.split_set)
        result = reproduce.reproduce(found, evaluator)
    reproduce.write_reproduction(folder, result)
    if as_json:
        print(result.model_dump_json())
    else:
        _print(result, path)
    if result.verdict != "reproduced":
        raise typer.Exit(1)


def _print(result: Reproduction, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{result.hypothesis} at {result.budget}", title_justify="left")
    for col in ("dataset", "recorded", "reproduced", "equal"):
        table.add_column(col)
    for c in result.datasets:
        got = "-" if c.reproduced is None else f"{c.reproduced:.6f}"
        table.add_row(cell(c.name), f"{c.recorded:.6f}", got, "yes" if c.equal else "NO")
    out.print(table)
    if result.status is not Outcome.OK:
        _say(f"the re-run ended {result.status}: {clean(result.reason)}")
    if result.verdict == "reproduced":
        _say(f"reproduced: every accuracy identical ({len(result.cells)} splits)")
    else:
        parts = [
            f"{c.name} {c.recorded!r} vs {c.reproduced!r}" for c in result.datasets if not c.equal
        ]
        splits = [c.name for c in result.cells if not c.equal]
        if splits:
            parts.append(f"splits {', '.join(splits)}")
        _say(f"mismatch: {'; '.join(parts)}" if parts else "mismatch")
    if result.environment:
        _say(f"environment differs: {'; '.join(result.environment)}")
    _say(f"bundle: {path}")


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)
