"""The activation task's part of the campaign report: the leaders' function curves.

``curves.png``: each leader's values at the fixed probe points, read from the probe arrays its
sandbox run wrote (untrusted: through ``probe_values``, finite values only), next to the
baselines, computed here from the formulas of ``baselines/<name>.py`` (``BASELINE_CURVES``; a
unit test checks them against those files).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.records import EvalReport, HypothesisRow
from core.text import clean

WINDOW = 5.0  # plotted on [-WINDOW, WINDOW]


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


# The baselines of ``harness.BASELINES`` in numpy, as their files compute them in torch.
BASELINE_CURVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": _gelu,
    "silu": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
}


def baseline_curves(x: np.ndarray) -> dict[str, np.ndarray]:
    """Each baseline's values at ``x``, in the order of ``harness.BASELINES``."""
    from evaluators.activation.harness import BASELINES

    return {name: BASELINE_CURVES[name](x) for name in BASELINES if name in BASELINE_CURVES}


class ActivationReport:
    """Report hooks of the activation task (``evaluators.contract.ReportHooks``)."""

    def figures(
        self,
        out_dir: Path,
        leaders: list[HypothesisRow],
        reports: dict[str, EvalReport],
        home: Path | None = None,
    ) -> list[tuple[str, str]]:
        return [("curves.png", "curves")] if plot_curves(out_dir, leaders, reports) else []

    def probe_curves(self, report: EvalReport) -> dict[str, list[tuple[float, float]]] | None:
        """The hypothesis's values at the fixed probe points on [-WINDOW, WINDOW], read from its
        run's probe arrays, beside each baseline's; None without usable (finite) arrays."""
        from evaluators.activation.harness import probe_values

        if not report.artifacts:
            return None
        try:
            x, y = _window(probe_values(Path(report.artifacts), "candidate"))
        except (TypeError, ValueError, OSError):
            return None
        if x is None or y is None or not np.isfinite(y).all():
            return None
        out = {"hypothesis": list(zip(x.tolist(), y.tolist(), strict=True))}
        for name, base in baseline_curves(x.astype(np.float64)).items():
            out[name] = list(zip(x.tolist(), base.tolist(), strict=True))
        return out


def _window(
    found: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The probe's points and values on [-WINDOW, WINDOW], sorted by point."""
    if found is None:
        return None, None
    pts, y = found
    if y.shape != pts.shape:
        return None, None
    window = np.abs(pts) <= WINDOW
    order = np.argsort(pts[window])
    return pts[window][order], y[window][order].astype(np.float64)


def plot_curves(out: Path, leaders: list[HypothesisRow], reports: dict[str, EvalReport]) -> bool:
    """Write ``curves.png``; False (nothing written) when no leader left usable probe arrays."""
    import matplotlib.pyplot as plt

    from evaluators.activation import runner
    from evaluators.activation.harness import probe_values

    pts = runner.probe_points()
    window = np.abs(pts) <= WINDOW
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
    for name, y in baseline_curves(x.astype(np.float64)).items():
        ax.plot(x, y, "--", lw=1, label=f"{name} (baseline)")
    for label, y in curves.items():
        ax.plot(x, y, lw=2, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("activation(x)")
    ax.set_ylim(-3, 5)
    ax.legend(fontsize=7)
    ax.set_title("leaders next to the baselines")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)
    return True
