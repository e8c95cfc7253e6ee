"""Cost of the sandbox: the same hypotheses evaluated in a container and without one.

Same runner, same data, same scoring, each hypothesis ``--rounds`` times:
  sandbox warm  one hardened container per hypothesis, started ahead (what hypoforge does with
                workers): the job's container is up, its modules imported, when the job comes
                (the pool is filled before timing, as in-process imports before timing)
  warm b2b      the same, jobs back to back: a job may find its container still starting
                (``warm_refill`` "auto", which is "after" the job on a machine of few cores)
  b2b during    back to back with the next container started during each job
  sandbox cold  a container created and started for each job (warm start off)
  subprocess    a fresh Python process per hypothesis on the host (pays the same imports)
  in-process    the runner called in this process, the warm containers' modules already
                imported (no isolation at all; trusted benchmark hypotheses only)
Warm and in-process alternate, hypothesis by hypothesis, so that a machine whose speed drifts
slows both alike. Prints each time and the ratios to in-process (goal for warm: <= 1.10).

Run: .venv/bin/python benchmarks/sandbox_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import HYPOTHESES, evaluator

from core.records import Outcome
from evaluators.activation import runner
from evaluators.activation.harness import HERE, get_budget
from sandbox.base import RunResult

SPEC = get_budget("one-pass")


def timed(fn: Callable[..., Any], *args: Any) -> float:
    t = time.monotonic()
    fn(*args)
    return time.monotonic() - t


def evaluate(ev: Any, source: str) -> None:
    report = ev.evaluate(source, "one-pass", static_check=False)
    if report.status is not Outcome.OK:
        raise SystemExit(f"a benchmark hypothesis failed: {report.reason}")


def in_process(ev: Any, source: str, tag: str) -> float:
    """The runner in this process on a fresh attempt folder, and the host's scoring."""
    job = ev.make_job({"candidate": source}, SPEC, tag)
    job.out_dir.mkdir(parents=True)

    def run() -> None:
        runner.run(job.out_dir.parent / "in", ev.data_file(), job.out_dir)
        ev.score_output(RunResult(outcome=Outcome.OK, out_dir=job.out_dir), "candidate")

    took = timed(run)
    shutil.rmtree(job.out_dir.parent)
    return took


def in_subprocess(ev: Any, source: str, tag: str) -> float:
    """A fresh host Python running the runner, and the host's scoring."""
    job = ev.make_job({"candidate": source}, SPEC, tag)
    job.out_dir.mkdir(parents=True)
    runner_py, in_dir = str(HERE / "runner.py"), str(job.out_dir.parent / "in")
    command = [sys.executable, "-B", runner_py, in_dir, str(ev.data_file()), str(job.out_dir)]

    def run() -> None:
        subprocess.run(command, check=True)
        ev.score_output(RunResult(outcome=Outcome.OK, out_dir=job.out_dir), "candidate")

    took = timed(run)
    shutil.rmtree(job.out_dir.parent)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ev, sandbox = evaluator()
    ev.baselines(SPEC)
    sources = list(HYPOTHESES.values()) * args.rounds
    ways = ("sandbox warm", "in-process", "warm b2b", "b2b during", "sandbox cold", "subprocess")
    totals = dict.fromkeys(ways, 0.0)

    for source in sources:
        totals["sandbox cold"] += timed(evaluate, ev, source)

    for module in sandbox.settings.warm_preload:  # what a warm container has imported
        importlib.import_module(module)
    sandbox.set_workers(1)
    evaluate(ev, sources[0] + "# warm-up\n")  # a spec's first job starts cold; the pool fills
    hits_before = sandbox.warm_counts[0]
    for i, source in enumerate(sources):
        sandbox.wait_warm()
        totals["sandbox warm"] += timed(evaluate, ev, source)
        sandbox.wait_warm()
        totals["in-process"] += in_process(ev, source, f"bench-in-{i}")
    for way, refill in (("warm b2b", "auto"), ("b2b during", "during")):
        sandbox.settings = sandbox.settings.model_copy(update={"warm_refill": refill})
        sandbox.wait_warm()
        for source in sources:
            totals[way] += timed(evaluate, ev, source)
    hits = sandbox.warm_counts[0] - hits_before
    sandbox.close()

    for i, source in enumerate(sources):
        totals["subprocess"] += in_subprocess(ev, source, f"bench-sub-{i}")

    n = len(sources)
    for way, total in totals.items():
        print(f"{way:12s} {total / n:6.3f} s per hypothesis")
    print(f"jobs that found their container started: {hits} of {3 * n}")
    base = totals["in-process"]
    print(f"ratio sandbox warm/in-process: {totals['sandbox warm'] / base:.2f} (goal 1.10)")
    print(f"ratio warm b2b/in-process:     {totals['warm b2b'] / base:.2f}")
    print(f"ratio b2b during/in-process:   {totals['b2b during'] / base:.2f}")
    print(f"ratio sandbox cold/in-process: {totals['sandbox cold'] / base:.2f}")
    print(f"ratio sandbox cold/subprocess: {totals['sandbox cold'] / totals['subprocess']:.2f}")


if __name__ == "__main__":
    main()
