"""The template kind's metrics, computed on the host from the predictions a job wrote and the
targets that never left the host.

``METRICS[name]`` is a ``Metric``: ``reads`` names the predictions array (``<candidate>.<split>.
<reads>.npy``), ``against`` the split's target array. ``Metric.score`` is total: any array (any
dtype, shape, NaN or inf, empty) gives a float, higher is better (losses negated, so win rates
compare alike), or a ``Bad`` with a reason; it never raises.

Log-probabilities are renormalised here (a log-softmax of what came back), so no model can claim
more than probability 1 in total. ``mmd`` uses an RBF kernel whose bandwidth is the median
distance between held-out points (the host's data only: a model's samples cannot widen it), with
the unbiased estimate of MMD^2 (Gretton et al., 2012). ``nn_kl`` is the k-nearest-neighbour
estimate of KL(held-out || samples) of Wang, Kulkarni & Verdu (2009).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_ROWS = 100_000  # labels, tokens, values per split
MAX_SAMPLES = 4096  # points per side for mmd and nn_kl (pairwise distances: O(m k d))
MAX_CELLS = 4_000_000  # numbers in one predictions array
BANDWIDTH_POINTS = 1000  # held-out points the median heuristic looks at
NN_K = 5  # neighbours for nn_kl
BLOCK = 512  # rows per block of pairwise distances


@dataclass(frozen=True)
class Bad:
    """Why a predictions array cannot be scored; ``nonfinite``: it holds NaN or inf."""

    reason: str
    nonfinite: bool = False


Value = float | Bad


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # what a cell's score is, in words (the report's heatmap label)
    reads: str  # the predictions key
    against: str  # the targets key
    higher_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray], Value]  # the raw value (a loss for a loss)

    def score(self, predictions: object, targets: object) -> Value:
        """The cell's score, higher is better, or ``Bad``; never raises."""
        pred, want = _array(predictions), _array(targets)
        if pred is None or want is None:
            return Bad(f"{self.reads}: not a numeric array")
        if pred.size > MAX_CELLS:
            return Bad(f"{self.reads}: {pred.size} numbers; at most {MAX_CELLS}")
        if pred.dtype.kind == "f" and not np.isfinite(pred).all():
            return Bad(f"{self.reads}: non-finite values", nonfinite=True)
        try:
            with np.errstate(all="ignore"):
                value = self.fn(pred, want)
        except (ValueError, TypeError, ArithmeticError, MemoryError, IndexError) as exc:
            return Bad(f"{self.reads}: cannot be scored: {type(exc).__name__}: {str(exc)[:200]}")
        if isinstance(value, Bad):
            return value
        if not math.isfinite(value):
            return Bad(f"{self.name} is not finite ({value})", nonfinite=True)
        return float(value if self.higher_is_better else -value)


def _array(value: object) -> np.ndarray | None:
    """``value`` as a numeric ndarray (bool, int, float), else None."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return None
    return value


def _shape(pred: np.ndarray, want: tuple[int, ...], kinds: str, what: str) -> Bad | None:
    if pred.shape != want or pred.dtype.kind not in kinds:
        kind = {"iu": "integers", "f": "floats", "biuf": "numbers"}.get(kinds, kinds)
        return Bad(f"{what}: {pred.dtype}{list(pred.shape)}, expected {kind}{list(want)}")
    return None


def _labels(target: np.ndarray) -> Bad | None:
    if target.ndim != 1 or target.dtype.kind not in "iu" or target.size > MAX_ROWS:
        return Bad(f"the targets are {target.dtype}{list(target.shape)}, not integer labels")
    if target.size == 0:
        return Bad("no targets")
    return None


def accuracy(pred: np.ndarray, target: np.ndarray) -> Value:
    """The fraction of labels predicted exactly."""
    bad = _labels(target) or _shape(pred, target.shape, "iu", "labels")
    return bad or float((pred.astype(np.int64) == target).mean())


def cross_entropy(pred: np.ndarray, target: np.ndarray) -> Value:
    """Mean nats per target token of the renormalised distributions ``pred`` [n, vocab]."""
    bad = _labels(target)
    if bad is None and (pred.ndim != 2 or pred.shape[0] != target.size or pred.shape[1] < 1):
        bad = Bad(
            f"logprobs: {pred.dtype}{list(pred.shape)}, expected floats[{target.size}, vocab]"
        )
    if bad is None and pred.dtype.kind != "f":
        bad = Bad(f"logprobs: {pred.dtype}, expected floats")
    if bad is None and (target.min() < 0 or target.max() >= pred.shape[1]):
        bad = Bad(f"a target token lies outside the {pred.shape[1]} columns of logprobs")
    if bad is not None:
        return bad
    logits = pred.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))  # logsumexp per row
    chosen = logits[np.arange(target.size), target.astype(np.int64)]
    return float((norm - chosen).mean())


def bits_per_token(pred: np.ndarray, target: np.ndarray) -> Value:
    """Cross-entropy in bits."""
    nats = cross_entropy(pred, target)
    return nats if isinstance(nats, Bad) else nats / math.log(2)


def mse(pred: np.ndarray, target: np.ndarray) -> Value:
    """Mean squared error over every number."""
    if target.size == 0 or target.dtype.kind not in "biuf" or target.size > MAX_CELLS:
        return Bad(f"the targets are {target.dtype}{list(target.shape)}, not values")
    bad = _shape(pred, target.shape, "f", "values")
    if bad is not None:
        return bad
    diff = pred.astype(np.float64) - target.astype(np.float64)
    return float(np.mean(diff * diff))


def _points(pred: np.ndarray, target: np.ndarray) -> Bad | None:
    if target.ndim != 2 or target.shape[0] < 2 or target.shape[1] < 1:
        return Bad(f"the targets are {target.dtype}{list(target.shape)}, not points [k, d]")
    if pred.ndim != 2 or pred.shape[1] != target.shape[1] or pred.dtype.kind != "f":
        return Bad(
            f"samples: {pred.dtype}{list(pred.shape)}, expected floats[m, {target.shape[1]}]"
        )
    if not 2 <= pred.shape[0] <= MAX_SAMPLES or target.shape[0] > MAX_SAMPLES:
        return Bad(f"samples: {pred.shape[0]} points; between 2 and {MAX_SAMPLES}")
    if not np.isfinite(target).all():
        return Bad("the targets hold non-finite points")
    return None


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances [len(a), len(b)], never below 0."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _kernel_sum(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    """sum_ij exp(-gamma |a_i - b_j|^2), in blocks of rows."""
    return float(
        sum(
            np.exp(-gamma * _sq_distances(a[i : i + BLOCK], b)).sum()
            for i in range(0, len(a), BLOCK)
        )
    )


def mmd(pred: np.ndarray, target: np.ndarray) -> Value:
    """The unbiased MMD^2 between samples and held-out points, RBF kernel
    exp(-|x - y|^2 / (2 s^2)) with s the median distance between held-out points."""
    bad = _points(pred, target)
    if bad is not None:
        return bad
    x, y = pred.astype(np.float64), target.astype(np.float64)
    scale = max(float(np.abs(y).max()), 1.0)
    x, y = np.clip(x, -1e6 * scale, 1e6 * scale) / scale, y / scale  # no overflow in squares
    head = y[:BANDWIDTH_POINTS]
    pairs = _sq_distances(head, head)[np.triu_indices(len(head), k=1)]
    median = float(np.median(pairs)) if pairs.size else 0.0
    gamma = 1.0 / (2.0 * median) if median > 0 else 1.0
    m, k = len(x), len(y)
    xx = (_kernel_sum(x, x, gamma) - m) / (m * (m - 1))  # the diagonal's ones left out
    yy = (_kernel_sum(y, y, gamma) - k) / (k * (k - 1))
    xy = _kernel_sum(x, y, gamma) / (m * k)
    return xx + yy - 2.0 * xy


def _kth(a: np.ndarray, b: np.ndarray, k: int, skip_self: bool) -> np.ndarray:
    """The distance from each row of ``a`` to its k-th nearest row of ``b`` (itself left out
    when ``a`` is ``b``)."""
    out = np.empty(len(a))
    for i in range(0, len(a), BLOCK):
        d = _sq_distances(a[i : i + BLOCK], b)
        if skip_self:
            rows = np.arange(len(d))
            d[rows, rows + i] = np.inf
        out[i : i + BLOCK] = np.sqrt(np.partition(d, k - 1, axis=1)[:, k - 1])
    return out


def nn_kl(pred: np.ndarray, target: np.ndarray) -> Value:
    """KL(held-out || samples), Wang, Kulkarni & Verdu (2009), eq. 5:
    d/n sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)), with rho_k(i) the distance from
    held-out point i to its k-th neighbour among the other held-out points and nu_k(i) to its
    k-th neighbour among the m samples. Distances are floored at 1e-9 of the data's scale, so a
    repeated point gives a large finite value, not an infinite one."""
    bad = _points(pred, target)
    if bad is not None:
        return bad
    x, y = pred.astype(np.float64), target.astype(np.float64)
    scale = max(float(np.abs(y).max()), 1.0)
    x, y = np.clip(x, -1e6 * scale, 1e6 * scale) / scale, y / scale
    n, m, d = len(y), len(x), y.shape[1]
    k = min(NN_K, n - 1, m)
    floor = 1e-9
    rho = np.maximum(_kth(y, y, k, skip_self=True), floor)
    nu = np.maximum(_kth(y, x, k, skip_self=False), floor)
    return float(d * np.mean(np.log(nu / rho)) + math.log(m / (n - 1)))


def curve_area(pred: np.ndarray, target: np.ndarray) -> Value:
    """The mean accuracy over checkpoints: ``pred`` [checkpoints + 1, n] labels."""
    bad = _labels(target)
    if bad is None and (pred.ndim != 2 or pred.shape[0] < 1):
        bad = Bad(f"labels: {pred.dtype}{list(pred.shape)}, expected integers[checkpoints + 1, n]")
    bad = bad or _shape(pred, (pred.shape[0], target.size), "iu", "labels")
    return bad or float((pred.astype(np.int64) == target[None, :]).mean())


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "held-out accuracy", "labels", "labels", True, accuracy),
        Metric(
            "cross_entropy",
            "held-out cross-entropy (nats, negated)",
            "logprobs",
            "tokens",
            False,
            cross_entropy,
        ),
        Metric(
            "bits_per_token",
            "held-out bits per token (negated)",
            "logprobs",
            "tokens",
            False,
            bits_per_token,
        ),
        Metric("mse", "held-out mean squared error (negated)", "values", "values", False, mse),
        Metric("mmd", "MMD^2 to held-out samples (negated)", "samples", "samples", False, mmd),
        Metric(
            "nn_kl", "kNN KL(held-out || samples) (negated)", "samples", "samples", False, nn_kl
        ),
        Metric(
            "curve_area",
            "area under the held-out accuracy curve",
            "labels",
            "labels",
            True,
            curve_area,
        ),
    )
}
