"""``hypoforge calibrate``: does a task's harness rank its known-worse controls below its
known-better ones (``evaluators.calibration``)?"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from core.errors import ConfigError
from hypoforge.cli.common import (
    BUDGETS,
    ConfigOpt,
    err,
    fail,
    out,
    session,
    spinner,
    task_evaluator,
)

SPLIT_SETS = ("selection", "confirmation", "hard")


def calibrate_cmd(
    task: Annotated[str, typer.Argument(help="Research task (see `hypoforge tasks list`).")],
    budget: Annotated[str, typer.Option(help="one-pass, short or full.")] = "short",
    splits: Annotated[str, typer.Option(help="Split set: selection, confirmation or hard.")] = (
        "hard"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Check that a task's scoring tells known-worse components from known-better ones.

    Evaluates the task's control panel (controls/controls.toml) in the sandbox and says, pair by
    pair, whether the harness separates them. Needs Docker and the sandbox image."""
    from evaluators import calibration, registry

    try:
        plugin = registry.get(task)
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}")
        if splits not in SPLIT_SETS:
            raise ConfigError(
                f"unknown split set {splits!r}; choose one of: {', '.join(SPLIT_SETS)}"
            )
        controls = calibration.panel(plugin.folder)
    except ConfigError as exc:
        raise fail(exc) from None
    with session(config) as (settings, sandbox):
        with spinner(as_json) as notify:
            evaluator = task_evaluator(plugin, settings, sandbox, notify, split_set=splits)
            result = calibration.calibrate(evaluator, controls, budget, notify=notify)
        path = calibration.save(settings.home, result)
    if as_json:
        print(json.dumps(result))
        return
    for line in calibration.render(result):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    err.print(f"saved: {path}", markup=False, highlight=False, soft_wrap=True)
