"""``hypoforge tasks ...``: the research tasks that can be run (plugins: evaluators.registry);
``hypoforge task new`` and ``task check``: a user's own training script made into a template
task (``hypoforge.tasknew``) and checked (``hypoforge.taskcheck``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from core.errors import ConfigError, HypoforgeError
from hypoforge.cli.common import ConfigOpt, err, fail, out

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


task_app = typer.Typer(
    rich_markup_mode="markdown",
    no_args_is_help=True,
    help="Make a research task of your own training script, and check it.",
)


@task_app.command("new")
def task_new(
    name: Annotated[str, typer.Argument(help="The task's name (lower case, digits, - and _).")],
    script: Annotated[Path, typer.Option("--script", help="Your training script.", dir_okay=False)],
    metric: Annotated[
        str, typer.Option(help="How held-out predictions are scored (see the list below).")
    ] = "accuracy",
    blocks: Annotated[
        list[str] | None,
        typer.Option(
            "--blocks",
            help="An editable block, NAME=START-END (lines of the script); repeat it. "
            "Without it, hypoforge guesses them.",
        ),
    ] = None,
    into: Annotated[
        Path, typer.Option("--into", help="Folder to create the task folder in.", file_okay=False)
    ] = Path("."),
) -> None:
    """Turn a plain training script into a research task folder, INTO/NAME.

    The folder holds train.py (the script, editable blocks marked), data.py, task.toml,
    description.md and baselines/. Prints what it guessed and what you must check; never
    overwrites a folder. Metrics: accuracy, cross_entropy, bits_per_token, mse, mmd, nn_kl,
    curve_area. Then run `hypoforge task check INTO/NAME`."""
    from hypoforge import tasknew

    try:
        made = tasknew.create(name, script, into, metric, blocks or None)
    except HypoforgeError as exc:
        raise fail(exc) from None
    out.print(f"task folder: {made.folder}", markup=False, highlight=False)
    for note in made.notes:
        out.print(f"  {note}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"next: edit the TODOs, then `hypoforge task check {made.folder}`",
        markup=False,
        highlight=False,
    )


@task_app.command("check")
def task_check(
    folder: Annotated[Path, typer.Argument(help="The task folder.", file_okay=False)],
    rungs: Annotated[
        str, typer.Option(help="Rungs to time, comma-separated (one-pass,short,full).")
    ] = "one-pass,short,full",
    config: ConfigOpt = None,
) -> None:
    """Check a task folder: its files, its data and its script run twice in the sandbox.

    The unedited template runs at each rung twice (the same score, or it is not
    deterministic) and is timed; then the control panel (controls/, if any) is ranked. One
    line per problem, naming the file and line where it can. Exit code 0 when all is well, 1
    with problems. The sandbox part needs Docker and the sandbox image."""
    from evaluators.kit.secrets import installation_secret
    from hypoforge import taskcheck
    from hypoforge.cli.common import load_settings, session, spinner, task_evaluator

    chosen = [r.strip() for r in rungs.split(",") if r.strip()]
    try:
        if unknown := [r for r in chosen if r not in taskcheck.RUNGS]:
            raise ConfigError(f"--rungs: unknown {', '.join(unknown)}; choose from one-pass, "
                              "short, full")  # fmt: skip
        settings = load_settings(config)
        problems = taskcheck.static_problems(folder, installation_secret(settings.home))
    except HypoforgeError as exc:
        raise fail(exc) from None
    if problems:
        _problems(problems)
    from evaluators import registry

    with session(config) as (settings, sandbox):
        plugin = registry.get(str(folder.resolve()))  # a path, never a task of that name
        with spinner(False) as notify:
            evaluator = task_evaluator(plugin, settings, sandbox, notify)
            result = taskcheck.sandbox_check(evaluator, folder, chosen, notify=notify)
    for line in result.lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.problems:
        _problems(result.problems)
    out.print(f"{folder}: no problems found", markup=False, highlight=False)


def _problems(problems: list[Any]) -> NoReturn:
    for p in problems:
        out.print(str(p), markup=False, highlight=False, soft_wrap=True)
    err.print(f"hypoforge: {len(problems)} problem(s)", markup=False, highlight=False)
    raise typer.Exit(1)
