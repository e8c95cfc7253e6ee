"""Statistics the confirmation, fidelity and calibration figures share: bootstrap bounds of a mean
over (dataset, seed) cells, Bonferroni-corrected, and rank agreement with bootstrap intervals.

All of them take host-computed numbers only and are deterministic (fixed bootstrap seeds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # the family-wise error rate of a campaign's keep decisions


def lower_bound(values: list[float] | np.ndarray, alpha: float, seed: int = 0) -> float:
    """One-sided lower confidence bound of the mean of ``values`` at level ``1 - alpha``
    (percentile bootstrap over the values, i.e. over cells). Enough resamples that the
    ``alpha`` quantile rests on at least 50 of them, up to 200 000."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    if x.size == 1 or np.ptp(x) == 0:
        return float(x.mean())
    resamples = int(min(200_000, max(2_000, np.ceil(50 / max(alpha, 1e-9)))))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 4_000_000 // x.size)  # bounded memory: chunks of at most 4M draws
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        means[start:stop] = x[rng.integers(0, x.size, size=(stop - start, x.size))].mean(axis=1)
    return float(np.quantile(means, alpha))


def corrected_alpha(tried: int, alpha: float = ALPHA) -> float:
    """Bonferroni: the per-hypothesis level that keeps the chance of any false keep among
    ``tried`` hypotheses at most ``alpha``."""
    return alpha / max(1, tried)


@dataclass(frozen=True)
class Agreement:
    """Rank agreement of two measurements of the same hypotheses."""

    n: int
    kendall: float
    kendall_ci: tuple[float, float]
    spearman: float
    spearman_ci: tuple[float, float]

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "kendall": self.kendall,
            "kendall_ci": list(self.kendall_ci),
            "spearman": self.spearman,
            "spearman_ci": list(self.spearman_ci),
        }


def _rank_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    return float(kendalltau(a, b).statistic), float(spearmanr(a, b).statistic)


def agreement(
    a: list[float], b: list[float], resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Agreement:
    """Kendall's tau and Spearman's rho of ``a`` and ``b`` (paired, one value per hypothesis),
    each with a percentile bootstrap interval over hypotheses (resamples with no spread skipped).
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.size < 3:
        raise ValueError("rank agreement needs at least 3 paired values")
    tau, rho = _rank_corr(x, y)
    rng = np.random.default_rng(seed)
    taus, rhos = [], []
    for _ in range(resamples):
        idx = rng.integers(0, x.size, x.size)
        t, r = _rank_corr(x[idx], y[idx])
        if np.isfinite(t):
            taus.append(t)
            rhos.append(r)
    lo, hi = (1 - confidence) / 2, 1 - (1 - confidence) / 2

    def interval(v: list[float]) -> tuple[float, float]:
        if not v:
            return float("nan"), float("nan")
        q = np.quantile(v, [lo, hi])
        return float(q[0]), float(q[1])

    return Agreement(x.size, tau, interval(taus), rho, interval(rhos))


def paired_difference(
    better: dict[str, float], worse: dict[str, float], confidence: float = 0.95, seed: int = 0
) -> tuple[float, tuple[float, float], int]:
    """Mean of ``better[c] - worse[c]`` over the cells both have, with a percentile bootstrap
    interval over cells, and the number of cells."""
    cells = sorted(set(better) & set(worse))
    if not cells:
        raise ValueError("no common cells to compare")
    d = np.array([better[c] - worse[c] for c in cells])
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, d.size, size=(4000, d.size))].mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return float(d.mean()), (float(lo), float(hi)), len(cells)


def regression(selected: list[float], confirmed: list[float]) -> dict:
    """How selection-time figures regress at confirmation: means, their difference and, with
    three or more points, the least-squares slope of confirmation on selection."""
    x, y = np.asarray(selected, dtype=np.float64), np.asarray(confirmed, dtype=np.float64)
    if x.size == 0 or x.shape != y.shape:
        return {"n": 0}
    out = {
        "n": int(x.size),
        "selection_mean": float(x.mean()),
        "confirmation_mean": float(y.mean()),
        "drop": float(x.mean() - y.mean()),
    }
    if x.size >= 3 and np.ptp(x) > 0:
        out["slope"] = float(np.polyfit(x, y, 1)[0])
    return out
