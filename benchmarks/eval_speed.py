"""Seconds per one-pass screening of one hypothesis, baselines cached. Goal: <= 10 s on 2 cores.

Run: .venv/bin/python benchmarks/eval_speed.py
"""

from __future__ import annotations

import statistics
import time

from _common import HYPOTHESES, evaluator

from evaluators.activation.harness import get_budget

GOAL_SECONDS = 10.0


def main() -> None:
    ev, sandbox = evaluator()
    start = time.monotonic()
    ev.baselines(get_budget("one-pass"))  # fills the cache if it is empty
    print(f"baselines ready in {time.monotonic() - start:.1f} s (cached afterwards)")
    times = []
    for name, source in HYPOTHESES.items():
        t = time.monotonic()
        report = ev.evaluate(source, "one-pass")
        times.append(time.monotonic() - t)
        print(f"{name:14s} {report.status:8s} win rate {report.win_rate:.3f}  {times[-1]:.2f} s")
    med = statistics.median(times)
    print(
        f"median seconds per one-pass screening: {med:.2f} (goal {GOAL_SECONDS:.0f} s; "
        f"ratio to goal {med / GOAL_SECONDS:.2f})"
    )
    sandbox.close()


if __name__ == "__main__":
    main()
