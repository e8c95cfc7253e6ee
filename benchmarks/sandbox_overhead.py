"""Cost of the sandbox: the same hypotheses evaluated in a container and without one.

Three ways, same runner, same data, same scoring:
  sandbox     one hardened container per hypothesis (what hypoforge does)
  subprocess  a fresh Python process per hypothesis on the host (pays the same torch import)
  in-process  the runner called in this process, torch already imported (no isolation at all;
              trusted benchmark hypotheses only)
Prints each time and the ratios sandbox/subprocess and sandbox/in-process (goal <= 1.10).

Run: .venv/bin/python benchmarks/sandbox_overhead.py
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import HYPOTHESES, evaluator

from evaluators.activation import runner
from evaluators.activation.harness import HERE, get_budget
from hypoforge.records import Outcome
from sandbox.base import RunResult


def main() -> None:
    ev, sandbox = evaluator()
    spec = get_budget("one-pass")
    ev.baselines(spec)
    data = ev.data_file()
    totals = {"sandbox": 0.0, "subprocess": 0.0, "in-process": 0.0}
    import torch  # noqa: F401 - in-process means a warm worker: torch imported before timing

    for name, source in HYPOTHESES.items():
        t = time.monotonic()
        ev.evaluate(source, "one-pass", static_check=False)
        totals["sandbox"] += time.monotonic() - t

        job = ev.make_job({"candidate": source}, spec, f"bench-sub-{len(name)}")
        job.out_dir.mkdir(parents=True)
        in_dir = job.out_dir.parent / "in"
        t = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-B",
                str(HERE / "runner.py"),
                str(in_dir),
                str(data),
                str(job.out_dir),
            ],
            check=True,
        )
        ev.score_output(RunResult(outcome=Outcome.OK, out_dir=job.out_dir), "candidate")
        totals["subprocess"] += time.monotonic() - t

        job = ev.make_job({"candidate": source}, spec, f"bench-in-{len(name)}")
        job.out_dir.mkdir(parents=True)
        t = time.monotonic()
        runner.run(job.out_dir.parent / "in", data, job.out_dir)
        ev.score_output(RunResult(outcome=Outcome.OK, out_dir=job.out_dir), "candidate")
        totals["in-process"] += time.monotonic() - t
    n = len(HYPOTHESES)
    for way, total in totals.items():
        print(f"{way:11s} {total / n:6.2f} s per hypothesis")
    print(f"ratio sandbox/subprocess: {totals['sandbox'] / totals['subprocess']:.2f}")
    print(f"ratio sandbox/in-process: {totals['sandbox'] / totals['in-process']:.2f} (goal 1.10)")
    sandbox.close()


if __name__ == "__main__":
    main()
