"""Behavioural fingerprints of activation functions, so that ``x*sigmoid(x)`` and
``x/(1+exp(-x))`` are recognised as one hypothesis.

A fingerprint is built from the values the sandbox's probe wrote (never by running hypothesis
code here): the function on the dense part of the probe grid, normalised for shift and scale,
followed by its normalised slopes, as one unit vector. Two functions whose fingerprints agree to
within ``DUPLICATE_TOLERANCE`` everywhere behave identically for the network up to an affine
change that the next linear layer can absorb.
"""

from __future__ import annotations

import numpy as np

WINDOW = 5.0  # |x| range that shapes the fingerprint
DUPLICATE_TOLERANCE = 1e-3


def _normalise(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    scale = float(np.abs(v).max())
    return v / scale if scale > 0 else v


def fingerprint(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The unit-length fingerprint of the function sampled as ``values`` at ``points``."""
    keep = np.abs(points) <= WINDOW
    order = np.argsort(points[keep])
    x = points[keep][order].astype(np.float64)
    y = values[keep][order].astype(np.float64)
    x, unique = np.unique(x, return_index=True)
    y = y[unique]
    slopes = np.diff(y) / np.diff(x)
    vec = np.concatenate([_normalise(y), _normalise(slopes)])
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def same_behaviour(a: np.ndarray, b: np.ndarray, tolerance: float = DUPLICATE_TOLERANCE) -> bool:
    """Whether two fingerprints describe the same function (up to shift and scale)."""
    return a.shape == b.shape and float(np.max(np.abs(a - b))) <= tolerance


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two fingerprints (1: same shape)."""
    return float(np.dot(a, b))


FINE = 1e-3  # points nearer 0 than this (but not 0) shape slopes at a scale no training sees


def _view(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    vec = np.concatenate([_normalise(y), _normalise(np.diff(y) / np.diff(x))])
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def equivalents(fp: list[float] | np.ndarray, points: np.ndarray) -> list[np.ndarray]:
    """The ways a network can use the function of fingerprint ``fp`` (taken at ``points``), for
    matching it to a published one: ``f``, ``-f``, ``f(-x)`` and ``-f(-x)`` train alike (the
    linear layers on either side absorb the flips, their initialisation being symmetric), each
    seen on the grid without the points next to 0, whose slopes a hypothesis could bend at a
    scale below any input it meets. Empty when ``fp`` does not fit ``points`` or is not finite."""
    keep = np.abs(points) <= WINDOW
    x = np.unique(points[keep].astype(np.float64))
    values = np.asarray(fp, dtype=np.float64)
    if values.shape != (2 * len(x) - 1,) or not np.isfinite(values).all():
        return []
    coarse = (np.abs(x) >= FINE) | (x == 0)
    x, y = x[coarse], values[: len(coarse)][coarse]
    views = [_view(x, y), _view(x, -y)]
    if np.allclose(x, -x[::-1]):  # a symmetric grid: f(-x) is the values reversed
        views += [_view(x, y[::-1]), _view(x, -y[::-1])]
    return views
