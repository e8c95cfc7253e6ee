"""``hypoforge tasks ...``: the research tasks that can be run (plugins: evaluators.registry)."""

from __future__ import annotations

import typer

from core.errors import HypoforgeError
from hypoforge.cli.common import fail, out

app = typer.Typer(
    rich_markup_mode="markdown",
    no_args_is_help=True,
    help="See which research tasks hypoforge can work on.",
)


@app.command("list")
def tasks_list() -> None:
    """List every research task: the built-in ones and those in HYPOFORGE_TASKS's folders."""
    from rich.table import Table

    from evaluators import registry

    try:
        found = registry.tasks()
    except HypoforgeError as exc:
        raise fail(exc) from None
    table = Table(title="research tasks", title_justify="left")
    for col in ("task", "a hypothesis defines", "search generator", "what it asks", "folder"):
        table.add_column(col)
    for name, t in sorted(found.items()):
        table.add_row(name, t.slot, "yes" if t.generator else "no", t.summary, str(t.folder))
    out.print(table)
