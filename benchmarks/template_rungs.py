"""Seconds per rung of the built-in template tasks (lm, diffusion2d): the unedited template run
in the real sandbox on each selection split alone, then on all of them in one job (what one
hypothesis costs at that rung), with the rung's wall-clock limit beside it. The README's
runtimes come from here, not from a timed test.

Run: .venv/bin/python benchmarks/template_rungs.py [TASK ...] [--rungs one-pass,short,full]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)

from core.settings import load_settings
from evaluators import registry
from evaluators.kit.budgets import get_budget
from evaluators.kit.secrets import installation_secret
from sandbox.docker_sandbox import DockerSandbox

TASKS = ("lm", "diffusion2d")


def seconds(task: str, sandbox: DockerSandbox, limits: object, rung: str, splits: list) -> float:
    """Wall seconds of one fresh baseline run of ``task``'s template on ``splits`` at ``rung``
    (a fresh home each time: nothing cached)."""
    home = Path(tempfile.mkdtemp(prefix="hf-rungs-"))
    ev = registry.get(task).make_evaluator(sandbox, home, limits, splits=splits)
    start = time.monotonic()
    ev.baselines(get_budget(rung))  # type: ignore[attr-defined]
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--rungs", default="one-pass,short,full")
    args = parser.parse_args()
    settings = load_settings()
    sandbox = DockerSandbox(settings.sandbox)
    sandbox.preflight()
    secret = installation_secret(settings.home)
    for task in args.tasks:
        plugin = registry.get(task)
        cls = plugin.evaluator_class()
        splits = cls.split_sets.selection(secret)  # type: ignore[attr-defined]
        for rung in args.rungs.split(","):
            limit = cls.spec.rung(rung).wall_seconds  # type: ignore[attr-defined]
            for s in splits:
                took = seconds(task, sandbox, settings.sandbox.limits, rung, [s])
                print(f"{task:12s} {rung:9s} {s.name:22s} {took:7.1f} s")
            total = seconds(task, sandbox, settings.sandbox.limits, rung, splits)
            print(
                f"{task:12s} {rung:9s} {'all ' + str(len(splits)) + ' splits':22s} {total:7.1f} s"
                f"  (limit {limit:.0f} s; ratio {total / limit:.2f})"
            )
    sandbox.close()


if __name__ == "__main__":
    main()
