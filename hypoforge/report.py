"""The campaign report: Markdown with plots, and the ledger as TSV. Only measured data is used.

Plots (PNG, in ``<campaign>/report/``):
  curves.png    the leaders' activation curves (from the probe arrays the sandbox wrote, read as
                untrusted artifacts) next to the baselines (computed here from their formulas)
  progress.png  win rate of every proposal in the order it was made
  heatmap.png   per-dataset accuracy of the leaders minus the best baseline
  reward.png    the reward model's predicted win rates against the measured ones
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from evaluators.activation import runner
from evaluators.activation.harness import probe_values
from hypoforge import campaign
from hypoforge.ledger import HypothesisRow, Ledger
from hypoforge.records import EvalReport
from hypoforge.text import clean

LEADERS = 4


def _baseline_curves(x: np.ndarray) -> dict[str, np.ndarray]:
    erf = np.vectorize(math.erf)
    return {
        "relu": np.maximum(x, 0),
        "gelu": 0.5 * x * (1 + erf(x / math.sqrt(2))),
        "silu": x / (1 + np.exp(-x)),
        "tanh": np.tanh(x),
    }


def _best_report(ledger: Ledger, campaign_id: str) -> dict[str, EvalReport]:
    """For each hypothesis, its full-budget report if any, else its screening report."""
    best: dict[str, EvalReport] = {}
    for _, hid, rep in ledger.results(campaign_id):
        if rep.win_rate is None:
            continue
        if hid not in best or rep.budget == "full":
            best[hid] = rep
    return best


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_curves(out: Path, leaders: list[HypothesisRow], reports: dict[str, EvalReport]) -> bool:
    import matplotlib.pyplot as plt

    pts = runner.probe_points()
    window = np.abs(pts) <= 5
    order = np.argsort(pts[window])
    x = pts[window][order]
    curves = {}
    for row in leaders:
        folder = reports[row.id].artifacts
        found = probe_values(Path(folder), "candidate") if folder else None
        if found is not None and np.isfinite(found[1]).all():
            curves[f"{row.id}: {clean(row.idea)[:40]}"] = found[1][window][order]
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, y in _baseline_curves(x.astype(np.float64)).items():
        ax.plot(x, y, "--", lw=1, label=f"{name} (baseline)")
    for label, y in curves.items():
        ax.plot(x, y, lw=2, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("activation(x)")
    ax.set_ylim(-3, 5)
    ax.legend(fontsize=7)
    ax.set_title("leaders next to the baselines")
    _save(fig, out / "curves.png")
    return True


def _plot_progress(out: Path, rows: list[HypothesisRow]) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = list(range(len(rows)))
    screen = [r.screen_win_rate if r.screen_win_rate is not None else np.nan for r in rows]
    full = [r.full_win_rate if r.full_win_rate is not None else np.nan for r in rows]
    failed = [i for i, r in enumerate(rows) if r.screen_win_rate is None]
    ax.plot(xs, screen, "o", label="one-pass screening")
    ax.plot(xs, full, "s", label="full budget")
    ax.plot(failed, [0.0] * len(failed), "x", color="grey", label="rejected / failed")
    ax.axhline(0.5, color="black", lw=0.8, ls=":")
    ax.set_xticks(xs, [r.id for r in rows], rotation=90, fontsize=7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("win rate")
    ax.legend(fontsize=7)
    ax.set_title("win rate per proposal, in order")
    _save(fig, out / "progress.png")


def _plot_heatmap(out: Path, leaders: list[HypothesisRow], reports: dict[str, EvalReport]) -> bool:
    import matplotlib.pyplot as plt

    datasets = sorted({d for r in leaders for d in reports[r.id].per_dataset})
    if not datasets:
        return False
    grid = np.array(
        [
            [
                (s.candidate - max(s.baselines.values()))
                if (s := reports[r.id].per_dataset.get(d))
                else np.nan
                for d in datasets
            ]
            for r in leaders
        ]
    )
    fig, ax = plt.subplots(figsize=(1.2 * len(datasets) + 2, 0.6 * len(leaders) + 1.5))
    lim = max(0.01, float(np.nanmax(np.abs(grid))))
    im = ax.imshow(grid, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(leaders)), [r.id for r in leaders], fontsize=8)
    fig.colorbar(im, ax=ax, label="accuracy minus best baseline")
    ax.set_title("leaders per dataset")
    _save(fig, out / "heatmap.png")
    return True


def _plot_reward(out: Path, rows: list[HypothesisRow]) -> bool:
    """The reward model's predictions against what screening measured (pruned ones on the axis)."""
    import matplotlib.pyplot as plt

    ran = [r for r in rows if r.predicted is not None and r.screen_win_rate is not None]
    pruned = [r.predicted for r in rows if r.stage == "pruned" and r.predicted is not None]
    if not ran and not pruned:
        return False
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
    predicted = np.array([r.predicted for r in ran], dtype=float)
    measured = np.array([r.screen_win_rate for r in ran], dtype=float)
    ax.plot(predicted, measured, "o", label="screened")
    ax.plot(pruned, [-0.03] * len(pruned), "|", color="grey", ms=12, label="pruned (not run)")
    ax.set_xlabel("predicted win rate")
    ax.set_ylabel("measured one-pass win rate")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.06, 1.05)
    ax.legend(fontsize=7)
    ax.set_title("reward model: predicted vs measured")
    _save(fig, out / "reward.png")
    return True


def _decisions(rows: list[HypothesisRow], alarms: list[str]) -> list[str]:
    """What was not run and why: duplicates with their originals, pruned with predictions,
    vetoed with who vetoed them."""
    lines = ["## What was not run, and why", ""]
    for r in rows:
        if r.stage == "duplicate":
            lines.append(
                f"- {r.id} ({clean(r.idea)}): behaves like {r.duplicate_of}, result reused"
            )
        elif r.stage in ("pruned", "vetoed"):
            lines.append(f"- {r.id} ({clean(r.idea)}): {clean(r.reason)}")
    lines += [f"- reward collapse alarm: {a}" for a in alarms]
    return [*lines, ""] if len(lines) > 2 else []


def write_tsv(path: Path, rows: list[HypothesisRow]) -> None:
    fields = list(HypothesisRow.model_fields)
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(fields)
        for r in rows:
            w.writerow(["" if getattr(r, k) is None else getattr(r, k) for k in fields])


def write_report(folder: Path) -> Path:
    """Write ``<folder>/report/report.md`` with its plots and ``ledger.tsv``; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        rows = ledger.hypotheses(info.id)
        reports = _best_report(ledger, info.id)
        tokens, launches = ledger.usage(info.id)
        stops = ledger.events(info.id, "stop")
        alarms = [detail for _, _, detail in ledger.events(info.id, "collapse")]
    finally:
        ledger.close()
    out = folder / "report"
    out.mkdir(exist_ok=True)
    scored = [r for r in rows if r.id in reports]
    leaders = sorted(scored, key=lambda r: reports[r.id].win_rate or 0, reverse=True)[:LEADERS]
    write_tsv(out / "ledger.tsv", rows)
    lines = [
        f"# Campaign {info.id} ({info.task})",
        "",
        f"{len(rows)} proposals, {len(scored)} scored, {launches} sandbox runs, "
        f"{tokens} LLM tokens. Stopped: {stops[-1][2] if stops else 'not yet'}.",
        "",
    ]
    if rows:
        _plot_progress(out, rows)
        lines += ["![win rate per proposal](progress.png)", ""]
    if leaders:
        lines += [
            "## Leaders",
            "",
            "| id | idea | budget | win rate | 95% CI |",
            "|---|---|---|---|---|",
        ]
        for r in leaders:
            rep = reports[r.id]
            lo, hi = rep.win_rate_ci or (math.nan, math.nan)
            idea = clean(r.idea).replace("|", "/")
            lines.append(
                f"| {r.id} | {idea} | {rep.budget} | {rep.win_rate:.3f} | {lo:.3f}-{hi:.3f} |"
            )
        lines.append("")
        if _plot_curves(out, leaders, reports):
            lines += ["![curves](curves.png)", ""]
        if _plot_heatmap(out, leaders, reports):
            lines += ["![per-dataset heatmap](heatmap.png)", ""]
    lines += _decisions(rows, alarms)
    if _plot_reward(out, rows):
        lines += ["![reward model](reward.png)", ""]
    lines += [
        "## Every proposal",
        "",
        "See [ledger.tsv](ledger.tsv): stage, critic verdict and "
        "predicted chance to win, outcome and reason, measured win rates.",
        "",
    ]
    for f in sorted((folder / "findings").glob("round-*.md")):
        lines += [f"## Findings: {f.stem}", "", *f.read_text().splitlines()[1:], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
