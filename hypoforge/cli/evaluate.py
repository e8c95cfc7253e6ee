"""``hypoforge eval PATH``: one hypothesis in the sandbox, its win rate against the baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from core.records import Outcome
from core.text import clean
from hypoforge.cli.common import (
    BUDGETS,
    ConfigOpt,
    err,
    fail,
    out,
    read_text,
    session,
    spinner,
    task_evaluator,
)


def eval_cmd(
    path: Annotated[Path, typer.Argument(help="Hypothesis file (see `hypoforge tasks list`).")],
    task: Annotated[str, typer.Option(help="Research task.")] = "activation",
    budget: Annotated[
        str, typer.Option(help="one-pass (screening), short (the ladder's middle) or full.")
    ] = "one-pass",
    splits: Annotated[
        str, typer.Option(help="The task's split set: selection, confirmation (held out) or hard.")
    ] = "selection",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score one hypothesis file in the sandbox: its win rate against the task's baselines.

    Write the function the task asks for (`hypoforge tasks list` names it) in a Python file.
    Needs Docker and the sandbox image; no language model."""
    from evaluators import registry

    try:
        plugin = registry.get(task)
        source = read_text(path)
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}")
    except ConfigError as exc:
        raise fail(exc) from None
    with session(config) as (settings, sandbox), spinner(as_json) as notify:
        evaluator = task_evaluator(plugin, settings, sandbox, notify, split_set=splits)
        report = evaluator.evaluate(source, budget)
    if as_json:
        print(report.model_dump_json())
    else:
        from evaluators.contract import metric_of
        from hypoforge.console import print_eval

        print_eval(out, report, metric=metric_of(evaluator))
    if report.status is Outcome.INFRA_ERROR:
        err.print(
            f"hypoforge: infrastructure error: {clean(report.reason)}", markup=False, soft_wrap=True
        )
        raise typer.Exit(3)
