"""The data of the diffusion2d task: 2D point clouds, drawn on the host from the installation's
secret. Trusted host code, never mounted into a container.

Four shapes: ``moons`` (two interleaved half circles), ``circles`` (two concentric rings),
``line`` (a segment) and ``curve``: a closed curve r(theta) = 1 + sum_k a_k cos(k theta + phi_k),
k = 2..4, whose amplitudes and phases come from the secret alone (one shape per installation,
which no public seed rebuilds). Every cloud is turned by an angle drawn from the secret and the
split, so no block can carry a shape's orientation, and standardised with its training points'
statistics (centred; divided by one scale, the RMS distance from the centre, so a shape keeps its
proportions).

A split holds ``TRAIN`` training points (``inputs["x_train"]``, into the job) and ``HELD_OUT``
held-out points (``targets["samples"]``, host only), drawn together and then parted, so both
come from the same distribution; the metric compares the samples with the held-out points, and
the harness's data-copying test compares the samples' and the held-out points' distances to the
training points.

Split sets: ``selection``: the four shapes at ``SEEDS`` (8 splits); ``confirmation``: the four
at ``FRESH_SEEDS`` (fresh points, fresh angles; 8 splits). No hard set: at these sizes every
shape is already learnt to different degrees (the line easily, the circles' thin rings hardly).
"""

from __future__ import annotations

import numpy as np

from evaluators.kit.secrets import PUBLIC, DataSecret, derive_rng
from evaluators.template.data import TemplateSplit

TASK = "diffusion2d"
SHAPES = ("moons", "circles", "line", "curve")
SEEDS = (0, 1)
FRESH_SEEDS = (2, 3)
TRAIN = 1000
HELD_OUT = 1000
NOISE = {"moons": 0.05, "circles": 0.04, "line": 0.02, "curve": 0.03}  # in the shape's units


def moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved half circles (sklearn's make_moons, with angles drawn at random)."""
    theta = rng.uniform(0.0, np.pi, n)
    lower = rng.random(n) < 0.5
    x = np.where(lower, 1.0 - np.cos(theta), np.cos(theta))
    y = np.where(lower, 0.5 - np.sin(theta), np.sin(theta))
    return np.stack([x, y], axis=1)


def circles(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two concentric rings, radii 1 and 0.5 (sklearn's make_circles, factor 0.5)."""
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    radius = np.where(rng.random(n) < 0.5, 1.0, 0.5)
    return radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def line(n: int, rng: np.random.Generator) -> np.ndarray:
    """A segment from (-1, 0) to (1, 0), uniformly."""
    return np.stack([rng.uniform(-1.0, 1.0, n), np.zeros(n)], axis=1)


def curve_shape(secret: DataSecret) -> tuple[np.ndarray, np.ndarray]:
    """The secret closed curve's amplitudes and phases for k = 2, 3, 4 (the secret alone)."""
    rng = derive_rng(secret, TASK, "curve", "shape")
    return rng.uniform(0.08, 0.22, 3), rng.uniform(0.0, 2.0 * np.pi, 3)


def curve(n: int, rng: np.random.Generator, secret: DataSecret) -> np.ndarray:
    """Points on r(theta) = 1 + sum_k a_k cos(k theta + phi_k), theta uniform (r >= 0.34)."""
    amplitudes, phases = curve_shape(secret)
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    k = np.arange(2, 5)
    radius = 1.0 + (amplitudes * np.cos(np.outer(theta, k) + phases)).sum(axis=1)
    return radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def cloud(shape: str, seed: int, secret: DataSecret = PUBLIC) -> tuple[np.ndarray, np.ndarray]:
    """(training points [TRAIN, 2], held-out points [HELD_OUT, 2]) of ``shape`` at ``seed``,
    turned and standardised, float32."""
    rng = derive_rng(secret, TASK, shape, seed)
    n = TRAIN + HELD_OUT
    if shape == "moons":
        points = moons(n, rng)
    elif shape == "circles":
        points = circles(n, rng)
    elif shape == "line":
        points = line(n, rng)
    elif shape == "curve":
        points = curve(n, rng, secret)
    else:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    points = points + NOISE[shape] * rng.standard_normal(points.shape)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = points @ turn.T
    train, held_out = points[:TRAIN], points[TRAIN:]
    centre = train.mean(axis=0)
    scale = np.sqrt(((train - centre) ** 2).sum(axis=1).mean())
    return (
        ((train - centre) / scale).astype(np.float32),
        ((held_out - centre) / scale).astype(np.float32),
    )


def split(shape: str, seed: int, secret: DataSecret = PUBLIC) -> TemplateSplit:
    """The split ``<shape>-s<seed>``: training points in, held-out points kept on the host."""
    train, held_out = cloud(shape, seed, secret)
    return TemplateSplit(
        name=f"{shape}-s{seed}",
        inputs={"x_train": train},
        targets={"samples": held_out},
        secret_id=secret.id,
    )


def selection(secret: DataSecret) -> list[TemplateSplit]:
    """The four shapes at ``SEEDS`` (8 splits)."""
    return [split(shape, seed, secret) for seed in SEEDS for shape in SHAPES]


def confirmation(secret: DataSecret) -> list[TemplateSplit]:
    """Held out from selection: the four shapes at ``FRESH_SEEDS`` (8 splits)."""
    return [split(shape, seed, secret) for seed in FRESH_SEEDS for shape in SHAPES]
