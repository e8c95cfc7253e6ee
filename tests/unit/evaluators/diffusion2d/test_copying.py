"""The data-copying test (Meehan, Chaudhuri & Dasgupta 2020) of diffusion2d's harness: copies and
jittered copies of the training points are flagged; fresh draws of the distribution and blurred
samples (underfitting) are not; it never raises."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from evaluators.diffusion2d import data, harness
from evaluators.diffusion2d.harness import Copying, copying


def draws(shape: str, n: int, seed: int) -> np.ndarray:
    """``n`` fresh points of the distribution of ``data.cloud(shape, 0)``: its turn and
    standardisation, redone as cloud does them, applied to new points of the shape."""
    maker = {"moons": data.moons, "circles": data.circles, "line": data.line}[shape]
    rng = data.derive_rng(data.PUBLIC, data.TASK, shape, 0)
    points = maker(data.TRAIN + data.HELD_OUT, rng)
    points = points + data.NOISE[shape] * rng.standard_normal(points.shape)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    train = (points @ turn.T)[: data.TRAIN]
    centre = train.mean(axis=0)
    scale = np.sqrt(((train - centre) ** 2).sum(axis=1).mean())
    assert np.allclose((train - centre) / scale, data.cloud(shape, 0)[0], atol=1e-6)
    fresh = np.random.default_rng(seed)
    new = maker(n, fresh) + data.NOISE[shape] * fresh.standard_normal((n, 2))
    return ((new @ turn.T - centre) / scale).astype(np.float32)


@pytest.fixture(scope="module", params=["moons", "circles", "line", "curve"])
def cloud(request):
    return data.cloud(request.param, 0)


def test_copies_of_the_training_points_are_flagged(cloud):
    train, held_out = cloud
    samples = train[np.random.default_rng(1).integers(0, len(train), 1000)]
    found = copying(samples, train, held_out)
    assert isinstance(found, Copying) and found.copies
    assert found.sample_median == 0.0 and found.held_out_median > 0.005
    assert found.statistic < -10 and found.worst < -10


def test_jittered_copies_are_flagged(cloud):
    train, held_out = cloud
    rng = np.random.default_rng(2)
    at = train[rng.integers(0, len(train), 1000)]
    found = copying(at + 0.002 * rng.standard_normal(at.shape), train, held_out)
    assert isinstance(found, Copying) and found.copies, found
    assert found.statistic < harness.THRESHOLD


def test_copies_in_one_cell_only_are_flagged_by_that_cell():
    """Honest samples everywhere but one region, where they are training points: the cell-
    averaged C_T stays above -3, the region's own Z does not."""
    train, held_out = data.cloud("moons", 0)
    honest = draws("moons", 1000, 3)
    centres = harness.kmeans(train.astype(np.float64), harness.CELLS)
    _, cell = harness.nearest(honest.astype(np.float64), centres)
    _, train_cell = harness.nearest(train.astype(np.float64), centres)
    copies = train[train_cell == 0]
    mixed = np.concatenate([honest[cell != 0], copies[: (cell == 0).sum()]])
    found = copying(mixed, train, held_out)
    assert isinstance(found, Copying) and found.copies
    assert found.statistic > harness.THRESHOLD and found.worst < harness.CELL_THRESHOLD


@pytest.mark.parametrize("shape", ["moons", "circles", "line"])
def test_fresh_draws_of_the_distribution_are_not_flagged(shape):
    train, held_out = data.cloud(shape, 0)
    found = copying(draws(shape, 1000, 4), train, held_out)
    assert isinstance(found, Copying) and not found.copies, found
    assert abs(found.statistic) < 3
    assert found.cells == harness.CELLS


def test_the_held_out_points_themselves_are_not_copies(cloud):
    train, held_out = cloud
    found = copying(held_out, train, held_out)
    assert isinstance(found, Copying) and not found.copies
    assert found.statistic == 0.0 and found.worst == 0.0  # Q and L are the same sample


def test_blurred_samples_underfit_and_are_not_flagged(cloud):
    train, held_out = cloud
    rng = np.random.default_rng(5)
    found = copying(held_out + 0.2 * rng.standard_normal(held_out.shape), train, held_out)
    assert isinstance(found, Copying) and not found.copies
    assert found.statistic > 5  # farther from the training points than held-out points


def test_mann_whitney_z_by_hand():
    # q all above l: U = m n, Z = (m n / 2) / sqrt(m n (m + n + 1) / 12)
    z = harness.mann_whitney_z(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    assert z == pytest.approx(2.0 / math.sqrt(4 * 5 / 12))
    assert harness.mann_whitney_z(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert harness.mann_whitney_z(np.array([0.0]), np.array([1.0, 2.0])) == pytest.approx(
        -1.0 / math.sqrt(2 * 4 / 12)
    )


def test_words_say_what_was_measured():
    found = Copying(statistic=-12.34, worst=-20.0, cells=8, sample_median=0.0, held_out_median=0.02)
    assert found.words() == (
        "C_T = -12.3 (below -3 is copying; Meehan et al. 2020), lowest cell Z = -20.0 over 8 "
        "cells; median distance to the nearest training point 0.0000 for samples, 0.0200 for "
        "held-out points"
    )
    assert not Copying(0.0, -99.0, 0, 0.0, 0.0).copies  # no cell tested: nothing to say


@pytest.mark.parametrize(
    "samples",
    [
        np.full((1000, 2), np.nan, dtype=np.float32),
        np.zeros((1000, 3), dtype=np.float32),
        np.zeros((0, 2), dtype=np.float32),
        np.zeros((1000,), dtype=np.float32),
        np.array(["a", "b"]),
        None,
    ],
    ids=["nan", "3d", "empty", "flat", "text", "none"],
)
def test_malformed_samples_give_a_reason(samples):
    train, held_out = data.cloud("moons", 0)
    assert copying(samples, train, held_out) == (
        "the samples, training or held-out points are not finite points [n, 2]"
    )


def test_samples_all_in_one_place_far_away_are_not_copies():
    train, held_out = data.cloud("moons", 0)
    found = copying(np.full((1000, 2), 1e30, dtype=np.float64), train, held_out)
    assert isinstance(found, Copying) and not found.copies


@settings(deadline=None, derandomize=True)
@given(
    samples=hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40),
    )
    | hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 60), st.just(2)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_copying_never_raises(samples):
    train, held_out = data.cloud("line", 1)
    found = copying(samples, train[:200], held_out[:200])
    assert isinstance(found, (Copying, str))
    if isinstance(found, Copying):
        assert math.isfinite(found.statistic) and math.isfinite(found.worst)
