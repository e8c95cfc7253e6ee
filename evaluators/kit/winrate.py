"""Win rate against baselines, as in "Towards Automated Machine Learning Research".

A comparison is one (dataset, seed, baseline) triple: the candidate wins it (1), ties (1/2) or
loses (0) on the metric. The win rate is the mean over all comparisons. Its confidence interval is a
percentile bootstrap over (dataset, seed) cells, which keeps the comparisons of one cell together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.kit.splits import Cell


@dataclass(frozen=True)
class WinRate:
    value: float
    ci: tuple[float, float]
    comparisons: int
    per_dataset: dict[str, float]
    per_cell: dict[Cell, float]  # the mean comparison score of each (dataset, seed) cell


def compare(candidate: float, baseline: float, tolerance: float = 1e-9) -> float:
    """1 for a win, 1/2 for a tie (within ``tolerance``), 0 for a loss; higher metric is better."""
    if abs(candidate - baseline) <= tolerance:
        return 0.5
    return 1.0 if candidate > baseline else 0.0


def win_rate(
    candidate: dict[Cell, float],
    baselines: dict[str, dict[Cell, float]],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> WinRate:
    """Win rate of ``candidate`` over every baseline on every cell the candidate has."""
    cells = sorted(candidate)
    if not cells or not baselines:
        raise ValueError("win rate needs at least one cell and one baseline")
    scores = np.array(
        [[compare(candidate[c], b[c]) for b in baselines.values()] for c in cells]
    )  # [cells, baselines]
    per_cell = scores.mean(axis=1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(cells), size=(resamples, len(cells)))
    boot = per_cell[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    datasets = sorted({d for d, _ in cells})
    per_dataset = {
        d: float(np.mean([per_cell[i] for i, c in enumerate(cells) if c[0] == d])) for d in datasets
    }
    return WinRate(
        value=float(scores.mean()),
        ci=(float(lo), float(hi)),
        comparisons=int(scores.size),
        per_dataset=per_dataset,
        per_cell={c: float(per_cell[i]) for i, c in enumerate(cells)},
    )
