"""The winner's curse, measured: how much of the best screening figures survives the ladder and
confirmation on held-out splits.

N hypotheses from the built-in search generator are screened (one-pass) on the selection
splits; the top K by screening then run at every later rung of the ladder (short, full) on the
same splits, at one-pass on the confirmation splits (fresh seeds, held-out datasets, the deep
network) and at the full budget there, as a campaign's confirmation would. Printed: the top K's
mean win rate at each step and its drop from screening (the regression), the rank agreement of
screening with each step over the K, and how many the corrected keep rule keeps and confirms.

Every evaluation is cached in a JSON file beside the home folder's data (``--cache``), so an
interrupted run resumes where it stopped and a rerun with larger N reuses what was measured.

    .venv/bin/python benchmarks/winners_curse.py [--n 100] [--k 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import evaluator  # puts the repository on sys.path

from core.records import EvalReport


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="hypotheses screened")
    ap.add_argument("--k", type=int, default=6, help="top hypotheses taken through the ladder")
    ap.add_argument("--seed", type=int, default=0, help="the search generator's seed")
    ap.add_argument("--cache", type=Path, default=None, help="JSON cache of every evaluation")
    args = ap.parse_args()

    from evaluators.activation.search import SearchGenerator
    from evaluators.stats import agreement
    from store import lifecycle

    ev, sandbox = evaluator()
    held_out = ev.confirmer()
    assert held_out is not None  # the default splits always have held-out ones
    cache_path = args.cache or ev.home / f"winners-curse-{ev.version}.json"
    cache: dict[str, dict] = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def run(which, name: str, code: str, budget: str) -> EvalReport:
        key = f"{which.split_set}|{budget}|{name}"
        if key not in cache:
            t0 = time.monotonic()
            report = which.evaluate(code, budget)
            cache[key] = json.loads(report.model_dump_json())
            cache_path.write_text(json.dumps(cache))
            print(f"  {key}: {report.status} {report.win_rate} ({time.monotonic() - t0:.0f} s)")
        return EvalReport.model_validate(cache[key])

    gen = SearchGenerator(seed=args.seed)
    codes: dict[str, tuple[str, str]] = {}
    while len(codes) < args.n:
        idea, code = gen.propose("novel" if len(codes) % 2 else "incremental", [])
        if code not in (c for _, c in codes.values()):
            codes[f"h{len(codes)}"] = (idea, code)
    try:
        screened = {}
        for i, (name, (_, code)) in enumerate(codes.items()):
            print(f"[{i + 1}/{len(codes)}] screening {name}", flush=True)
            rep = run(ev, name, code, "one-pass")
            if rep.win_rate is not None:
                screened[name] = rep
        top = sorted(screened, key=lambda n: screened[n].win_rate or 0, reverse=True)[: args.k]
        steps = {
            "one-pass, selection (screening)": {n: screened[n] for n in top},
            "one-pass, held out": {n: run(held_out, n, codes[n][1], "one-pass") for n in top},
            "short, selection": {n: run(ev, n, codes[n][1], "short") for n in top},
            "full, selection": {n: run(ev, n, codes[n][1], "full") for n in top},
            "full, held out (confirmation)": {
                n: run(held_out, n, codes[n][1], "full") for n in top
            },
        }
    finally:
        sandbox.close()

    base = [steps["one-pass, selection (screening)"][n].win_rate or 0.0 for n in top]
    print()
    print(
        f"{len(screened)} of {args.n} search hypotheses screened (one-pass, selection splits), "
        f"top {len(top)} through the ladder; harness {ev.version}"
    )
    print(f"| step | mean win rate of the top {len(top)} | drop from screening | Spearman |")
    print("|---|---|---|---|")
    for step, reports in steps.items():
        rates = [reports[n].win_rate or 0.0 for n in top]
        mean = sum(rates) / len(rates)
        rho = "-"
        if len(top) >= 3 and step != "one-pass, selection (screening)":
            a = agreement(base, rates)
            rho = f"{a.spearman:.2f} ({a.spearman_ci[0]:.2f}-{a.spearman_ci[1]:.2f})"
        print(f"| {step} | {mean:.3f} | {sum(base) / len(base) - mean:+.3f} | {rho} |")
    full = steps["full, selection"]
    kept = [n for n in top if lifecycle.keeps(full[n], len(screened))[0]]
    confirmed = [
        n
        for i, n in enumerate(kept)
        if lifecycle.confirms(steps["full, held out (confirmation)"][n], i + 1) == "confirmed"
    ]
    uncorrected = [n for n in top if lifecycle.keeps(full[n], 1)[0]]
    print()
    print(
        f"kept at the full budget with the correction (m = {len(screened)}): {len(kept)} "
        f"({', '.join(kept) or '-'}); without it: {len(uncorrected)}; "
        f"confirmed on held-out splits: {len(confirmed)} ({', '.join(confirmed) or '-'})"
    )
    for n in top:
        print(f"  {n}: {codes[n][0]}")


if __name__ == "__main__":
    main()
