"""The diffusion2d task's host checks, beside the template kind's: the data-copying test of the
samples, and the diffusion-step budget read from the edited script before anything runs.

A diffusion model scored by its samples' distance to held-out points can score well by giving
back its training points (or the training points jittered): a sample on a training point is
as near the held-out points as the training set itself is. The test of Meehan, Chaudhuri &
Dasgupta (2020, "A non-parametric test to detect data-copying in generative models", AISTATS)
tells copying from learning: a model that learnt the distribution puts its samples as far from
the training points as fresh points of that distribution are, so the distances from the
samples to their nearest training point (Q) and from the held-out points to theirs (L) are two
samples of one distribution; a copying model's Q are smaller.

``copying`` follows the paper's C_T statistic: the plane is cut into ``CELLS`` cells (k-means
on the training points, so that a model that copies in one region and not another is seen
there); in each cell holding at least ``MIN_SHARE`` of the samples and ``MIN_POINTS`` held-out
points, the Mann-Whitney U of Q against L is standardised to Z_U (mean 0, variance 1 when the
model does not copy); C_T is the mean of the cells' Z_U weighted by their held-out points.

Thresholds. When the samples are fresh draws of the held-out distribution, each Z_U is close
to a standard normal, and C_T (a weighted mean of independent ones, weights summing to 1) has
a variance of at most 1: C_T < ``THRESHOLD`` (-3) happens by chance with probability at most
0.0013, and a model that does not copy but underfits has C_T > 0 (its samples lie farther from
the training points than held-out points do). A model that copies in one cell only moves C_T
little, so a single cell below ``CELL_THRESHOLD`` (-5; by chance at most ``CELLS`` * 3e-7) is
also copying. The paper reads C_T << 0 as data-copying. Measured on the selection splits at
the one-pass rung: the template's samples sit at C_T from +0.6 (the line, learnt well) to +8.5
(the circles' thin rings, blurred), lowest cell Z -1.1; the known-worse controls at +5 to +11;
exact copies of the training points at about -14 (every Q is 0: the lowest Z_U a cell of
about 125 points can reach), and a denoiser that snaps to 250 points it memorised at -7 to -8,
lowest cell below -11 (tests/unit/evaluators/diffusion2d/test_copying.py and the red team in
tests/integration/test_diffusion2d.py). A limit the paper states: the test sees samples nearer
the training points than fresh points are; samples that copy and then move every point by
about the held-out spacing are not seen, though they gain little on the metric either.

A flagged result is never kept (``store.lifecycle``: keep needs an unflagged result).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np

from evaluators.edits import blocks
from evaluators.static_check import StaticCheckError
from evaluators.template.data import TemplateSplit
from evaluators.template.evaluator import TemplateEvaluator

CELLS = 8  # k-means cells over the training points
KMEANS_ROUNDS = 25
MIN_SHARE = 0.02  # a cell is tested when it holds at least this share of the samples
MIN_POINTS = 20  # ... and at least this many samples and held-out points
THRESHOLD = -3.0  # C_T below it: copying
CELL_THRESHOLD = -5.0  # one cell's Z_U below it: copying there
MAX_POINTS = 8192  # per array; the metric allows 4096 samples
BLOCK = 512
# The budget the fixed part enforces at run time (train.py: MAX_DIFFUSION_STEPS, MAX_BATCH),
# read here from the edited script so that a hypothesis over it is refused before it runs.
LIMITS = {"DIFFUSION_STEPS": 1000, "BATCH": 4096}


@dataclass(frozen=True)
class Copying:
    """The data-copying test of one split: C_T, the lowest cell's Z_U, how many cells were
    tested, and the median distance to the nearest training point of samples and held-out."""

    statistic: float
    worst: float
    cells: int
    sample_median: float
    held_out_median: float

    @property
    def copies(self) -> bool:
        return self.cells > 0 and (self.statistic < THRESHOLD or self.worst < CELL_THRESHOLD)

    def words(self) -> str:
        return (
            f"C_T = {self.statistic:.1f} (below {THRESHOLD:g} is copying; Meehan et al. 2020), "
            f"lowest cell Z = {self.worst:.1f} over {self.cells} cells; median distance to the "
            f"nearest training point {self.sample_median:.4f} for samples, "
            f"{self.held_out_median:.4f} for held-out points"
        )


def points(value: object) -> np.ndarray | None:
    """``value`` as finite float64 points [n, 2] (1 <= n <= MAX_POINTS), else None."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return None
    if value.ndim != 2 or value.shape[1] != 2 or not 1 <= value.shape[0] <= MAX_POINTS:
        return None
    array = value.astype(np.float64)
    return array if np.isfinite(array).all() else None


def nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``a``: the distance to its nearest row of ``b``, and that row's index."""
    dist, index = np.empty(len(a)), np.empty(len(a), dtype=np.int64)
    for i in range(0, len(a), BLOCK):
        chunk = a[i : i + BLOCK]
        d = (chunk * chunk).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * chunk @ b.T
        index[i : i + BLOCK] = d.argmin(axis=1)
        dist[i : i + BLOCK] = np.sqrt(np.maximum(d[np.arange(len(chunk)), index[i : i + BLOCK]], 0))
    return dist, index


def kmeans(train: np.ndarray, k: int) -> np.ndarray:
    """``k`` centres of the training points (Lloyd's rounds from a farthest-point start at the
    point nearest the mean): deterministic, host-only, from the training points alone."""
    k = min(k, len(train))
    first = int(np.argmin(((train - train.mean(0)) ** 2).sum(1)))
    centres = [train[first]]
    gap = ((train - centres[0]) ** 2).sum(1)
    for _ in range(k - 1):
        centres.append(train[int(np.argmax(gap))])
        gap = np.minimum(gap, ((train - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    for _ in range(KMEANS_ROUNDS):
        _, cell = nearest(train, c)
        c = np.array([train[cell == j].mean(0) if (cell == j).any() else c[j] for j in range(k)])
    return c


def mann_whitney_z(q: np.ndarray, ll: np.ndarray) -> float:
    """Z of the Mann-Whitney U of ``q`` against ``ll`` (U counts pairs with q > l, ties
    halved; mean m n / 2, variance m n (m + n + 1) / 12): below 0 when ``q`` runs smaller."""
    m, n = len(q), len(ll)
    ordered = np.sort(ll)
    below = np.searchsorted(ordered, q, side="left")
    ties = np.searchsorted(ordered, q, side="right") - below
    u = float(below.sum() + 0.5 * ties.sum())
    return (u - m * n / 2.0) / math.sqrt(m * n * (m + n + 1) / 12.0)


def copying(samples: object, train: object, held_out: object) -> Copying | str:
    """The data-copying test of ``samples`` against ``train`` and ``held_out`` (each points
    [n, 2]), or why it cannot be run; never raises."""
    s, t, h = points(samples), points(train), points(held_out)
    if s is None or t is None or h is None:
        return "the samples, training or held-out points are not finite points [n, 2]"
    scale = max(float(np.abs(t).max()), 1.0)
    s, t, h = np.clip(s, -1e6 * scale, 1e6 * scale) / scale, t / scale, h / scale
    q, _ = nearest(s, t)
    ll, _ = nearest(h, t)
    centres = kmeans(t, CELLS)
    _, s_cell = nearest(s, centres)
    _, h_cell = nearest(h, centres)
    weights, scores = [], []
    for j in range(len(centres)):
        qj, lj = q[s_cell == j], ll[h_cell == j]
        if len(qj) < max(MIN_POINTS, MIN_SHARE * len(s)) or len(lj) < MIN_POINTS:
            continue
        weights.append(len(lj) / len(h))
        scores.append(mann_whitney_z(qj, lj))
    if not scores:
        return "no cell holds enough samples and held-out points to test"
    w = np.array(weights)
    return Copying(
        statistic=float((w * np.array(scores)).sum() / w.sum()),
        worst=float(min(scores)),
        cells=len(scores),
        sample_median=float(np.median(q)) * scale,
        held_out_median=float(np.median(ll)) * scale,
    )


def over_budget(script: str) -> str | None:
    """Why the edited script's constants break the budget (``LIMITS``), or None: the last
    top-level assignment of each limited name in the blocks, when it is an int literal."""
    values: dict[str, object] = {}
    for block in blocks(script):
        try:
            tree = ast.parse(block.body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None  # the kind's check has already said why
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in LIMITS:
                        values[target.id] = node.value.value
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and value > LIMITS[name]:
            return f"{name} = {value} is over the budget of {LIMITS[name]}; use at most that"
    return None


class Diffusion2dEvaluator(TemplateEvaluator):
    """The template kind's evaluator with the data-copying test and the step budget."""

    @classmethod
    def static_problem(cls, source: str) -> str | None:
        problem = super().static_problem(source)
        if problem is not None:
            return problem
        try:
            return over_budget(cls.template.edited(source))
        except StaticCheckError as exc:  # cannot happen after the check passed; said anyway
            return str(exc)

    def extra_checks(
        self, predictions: dict[str, np.ndarray], split: TemplateSplit
    ) -> tuple[str | None, tuple[str, ...]]:
        """Flag samples that copy the training points (the result is then never kept)."""
        found = copying(
            predictions.get("samples"), split.inputs.get("x_train"), split.targets.get("samples")
        )
        if isinstance(found, str) or not found.copies:
            return None, ()
        return None, (f"copies training points: {split.name}: {found.words()}",)
