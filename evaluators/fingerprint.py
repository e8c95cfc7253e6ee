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


def _view(y: np.ndarray) -> np.ndarray:
    """The unit vector of values ``y`` on ``CANONICAL``: normalised values, normalised slopes."""
    vec = np.concatenate([_normalise(y), _normalise(np.diff(y) / STEP)])
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


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


def same_behaviour(a: Any, b: Any, tolerance: float = DUPLICATE_TOLERANCE) -> bool:
    """Whether two fingerprints describe the same function (up to shift and scale); never for
    one that is not ``current``."""
    x, y = current(a), current(b)
    return x is not None and y is not None and float(np.max(np.abs(x - y))) <= tolerance


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two fingerprints (1: same shape)."""
    return float(np.dot(a, b))


def equivalents(fp: Any) -> list[np.ndarray]:
    """The ways a network can use the function of fingerprint ``fp``, for matching it to a
    published one: ``f``, ``-f``, ``f(-x)`` and ``-f(-x)`` train alike (the linear layers on
    either side absorb the flips, their initialisation being symmetric). The canonical grid is
    symmetric, so ``f(-x)`` is the values reversed. Empty when ``fp`` is not ``current``."""
    vec = current(fp)
    if vec is None:
        return []
    y = vec[: len(CANONICAL)]  # an affine image of the values: the views are the same
    return [_view(y), _view(-y), _view(y[::-1]), _view(-y[::-1])]
