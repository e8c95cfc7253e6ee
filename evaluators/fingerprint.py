"""Behavioural fingerprints of activation functions, so that ``x*sigmoid(x)`` and
``x/(1+exp(-x))`` are recognised as one hypothesis, and a published function is recognised
under any spelling.

A fingerprint is built from the values the sandbox's probe wrote (never by running hypothesis
code here) at the points the host drew for that job alone (``draw_points``): one uniform
random point in each cell of a fine partition of the window, so they cover it densely and no
point can be predicted. The values are interpolated onto a canonical grid (``CANONICAL``), which
no probe ever evaluates, normalised for shift and scale and followed by the normalised slopes
between grid points, as one unit vector. The fixed probe points are never read: a function
marked exactly there (``where(x == c, 0, f(x))``) has the fingerprint of ``f``, as it trains
like ``f``. Two functions whose fingerprints agree within ``DUPLICATE_TOLERANCE`` everywhere
behave identically for the network up to an affine change that the next linear layer absorbs.

Training reads a function only where its pre-activations go. The activation runner counts
them per cell of the canonical grid (``runner.Watch``), and a result keeps, per cell, the
largest share of a split's pre-activations that fell there (``reach``). Comparisons for the
catalogue and for duplicates are then made on the points training reached (``reading``), each
difference weighed by how much training reads it: in full where a cell holds ``FULL_SHARE`` of
a split's pre-activations, in proportion where fewer go, not at all where none go. A published
function marked only where no network of the job goes (``gelu(x) - 0.01 * (1 - sign(x +
4.5))`` on iris and moons) trains bit for bit like it and is "same as" it; marked where one in
a thousand go (digits, breast cancer) it is "close to" it. Without a reach (a probe alone, an
older result) the whole window is compared, every point in full.

The canonical grid is what makes fingerprints of different jobs comparable (duplicates across a
campaign and the archive, the reward model's features, the catalogue); a fingerprint of another
length (the fixed-grid ones of earlier versions) is not one of these (``current``) and is read
as absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WINDOW = 5.0  # |x| range that shapes the fingerprint
DUPLICATE_TOLERANCE = 1e-3
STEP = 0.1  # canonical grid spacing
# The grid sits half a step off 0 (and off every multiple of STEP): kinks of published
# functions (at 0, ±1, ±3, 6) fall between its points, whose interpolated values stay exact.
CANONICAL = np.linspace(-WINDOW + STEP / 2, WINDOW - STEP / 2, round(2 * WINDOW / STEP))
DIM = 2 * len(CANONICAL) - 1  # values, then slopes
CELL = 0.002  # each cell of the drawn partition holds one random point
SPAN = WINDOW + 0.5  # the drawn points cover [-SPAN, SPAN]
PAIRS = 3  # interpolants per canonical point, from disjoint pairs of drawn points around it
MAX_SPREAD = 0.03  # wider spread of those points: too sparse to interpolate (None)
# A difference at a canonical point counts in full when its cell holds at least this share of a
# split's pre-activations (in training or in the test pass), in proportion below: what a mark
# changes in training scales with how many inputs meet it, so a rare one weighs little (calling
# such a function known errs safe), and the "close" tolerance means the same everywhere.
FULL_SHARE = 1e-2
MIN_READ = 10  # fewer points reached (a 1.0-wide stretch): too little to compare; whole window


def draw_points(rng: np.random.Generator) -> np.ndarray:
    """This job's fingerprint points: one uniform point in each ``CELL`` of [-SPAN, SPAN], in
    random order (float32). Every point is continuous and fresh per job, so no set of inputs
    of measure zero (the fixed grid, any float a hypothesis names) is ever hit but by chance
    zero; the gaps stay below 2 * ``CELL``."""
    edges = np.arange(-SPAN, SPAN, CELL)
    pts = edges + rng.uniform(0.0, CELL, len(edges))
    return rng.permutation(pts).astype(np.float32)


def _normalise(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    scale = float(np.abs(v).max())
    return v / scale if scale > 0 else v


def _view(y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The unit vector of values ``y`` on ``CANONICAL``: normalised values, normalised slopes.
    With ``mask`` (``read_mask``) only the points reached and the slopes between two of them,
    scaled to the share of the grid they are, so that a tolerance means the same per point."""
    if mask is None:
        vec = np.concatenate([_normalise(y), _normalise(np.diff(y) / STEP)])
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec
    both = mask[1:] & mask[:-1]
    slopes = (np.diff(y) / STEP)[both]
    vec = np.concatenate([_normalise(y[mask]), _normalise(slopes) if len(slopes) else slopes])
    norm = float(np.linalg.norm(vec))
    return vec / norm * np.sqrt(len(vec) / DIM) if norm > 0 else vec


def read_mask(reach: Any) -> np.ndarray | None:
    """The canonical points training reached (bool, one per point of ``CANONICAL``): those
    whose cell any pre-activation fell in, from a result's ``reach`` (the largest share of a
    split's per cell, ``evaluators.activation.harness.read_reach``). None (the whole window)
    without a usable reach, or when fewer than ``MIN_READ`` points are reached."""
    try:
        arr = np.asarray(reach, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != CANONICAL.shape or not np.isfinite(arr).all() or (arr < 0).any():
        return None
    mask = arr > 0
    return mask if int(mask.sum()) >= MIN_READ else None


def reading(reach: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(``read_mask``, the weight of each entry of a view on it): a value's is its cell's share
    over ``FULL_SHARE`` (at most 1), a slope's the smaller of its two ends'. None: no reach."""
    mask = read_mask(reach)
    if mask is None:
        return None
    w = np.minimum(1.0, np.asarray(reach, dtype=np.float64) / FULL_SHARE)
    both = mask[1:] & mask[:-1]
    return mask, np.concatenate([w[mask], np.minimum(w[1:], w[:-1])[both]])


def gap(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The largest difference of two views, each entry weighed (``reading``; None: in full)."""
    diff = np.abs(a - b)
    return float(np.max(diff if weights is None else diff * weights))


def fingerprint(
    points: np.ndarray, values: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray | None:
    """The fingerprint of the function sampled as ``values`` at the drawn ``points`` (any equal
    to one of ``exclude``, the fixed probe points a hypothesis knows, left out), interpolated
    onto ``CANONICAL`` (``_resample``). None where the samples are too sparse around a canonical
    point (a job of an earlier version drew few) or not finite."""
    x = np.asarray(points, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        return None
    keep = np.abs(x) <= SPAN
    if exclude is not None:
        keep &= ~np.isin(x, np.asarray(exclude, dtype=np.float64))
    x, first = np.unique(x[keep], return_index=True)
    y = y[keep][first]
    if not np.isfinite(y).all():
        return None
    values_at = _resample(x, y)
    return None if values_at is None else _view(values_at)


def _resample(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """The values at ``CANONICAL`` from samples ``y`` at sorted ``x``: at each canonical point
    the median of ``PAIRS`` linear interpolants, the k-th nearest drawn point on the left with
    the k-th on the right. Each drawn point serves one interpolant, so a value marked at a
    single point that a draw hit by chance (a float the hypothesis names) cannot move it."""
    right = np.searchsorted(x, CANONICAL)
    if len(x) < 2 * PAIRS or right.min() < PAIRS or right.max() > len(x) - PAIRS:
        return None  # the window is not covered at its ends
    k = np.arange(PAIRS)[:, None]
    lo, hi = right - 1 - k, right + k
    if float(np.max(x[hi[-1]] - x[lo[-1]])) > MAX_SPREAD:
        return None
    t = (CANONICAL - x[lo]) / (x[hi] - x[lo])
    return np.median(y[lo] + t * (y[hi] - y[lo]), axis=0)


def current(fp: Any) -> np.ndarray | None:
    """``fp`` as a fingerprint of this version (length ``DIM``, finite), else None: the
    fixed-grid fingerprints of older ledgers, archives and caches compare with nothing."""
    try:
        arr = np.asarray(fp, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (DIM,) and np.isfinite(arr).all() else None


def same_behaviour(
    a: Any, b: Any, tolerance: float = DUPLICATE_TOLERANCE, reach: Any = None
) -> bool:
    """Whether two fingerprints describe the same function (up to shift and scale) where
    training reads it (``reach`` of the one whose result would be reused, weighed as in
    ``reading``: a function equal to it there trains exactly as it did); never for one that is
    not ``current``."""
    x, y = current(a), current(b)
    if x is None or y is None:
        return False
    read = reading(reach)
    if read is None:
        return gap(x, y) <= tolerance
    n = len(CANONICAL)
    return gap(_view(x[:n], read[0]), _view(y[:n], read[0]), read[1]) <= tolerance


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two fingerprints (1: same shape)."""
    return float(np.dot(a, b))


def equivalents(fp: Any, mask: np.ndarray | None = None) -> list[np.ndarray]:
    """The ways a network can use the function of fingerprint ``fp``, for matching it to a
    published one: ``f``, ``-f``, ``f(-x)`` and ``-f(-x)`` train alike (the linear layers on
    either side absorb the flips, their initialisation being symmetric). The canonical grid is
    symmetric, so ``f(-x)`` is the values reversed. Each is viewed on ``mask`` (``read_mask``:
    where the proposal's training went; None: the whole window). Empty when ``fp`` is not
    ``current``."""
    vec = current(fp)
    if vec is None:
        return []
    y = vec[: len(CANONICAL)]  # an affine image of the values: the views are the same
    return [_view(v, mask) for v in (y, -y, y[::-1], -y[::-1])]
