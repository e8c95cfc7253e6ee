"""diffusion2d's data: drawn from the secret, standardised, held-out points kept on the host."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.diffusion2d import data
from evaluators.kit.secrets import PUBLIC, make_secret

OTHER = make_secret(bytes(range(32)))


def test_selection_is_four_shapes_at_two_seeds_with_training_points_only_in_the_job():
    splits = data.selection(PUBLIC)
    assert [s.name for s in splits] == [
        "moons-s0",
        "circles-s0",
        "line-s0",
        "curve-s0",
        "moons-s1",
        "circles-s1",
        "line-s1",
        "curve-s1",
    ]
    for s in splits:
        assert set(s.inputs) == {"x_train"} and set(s.targets) == {"samples"}
        assert s.inputs["x_train"].shape == (data.TRAIN, 2)
        assert s.targets["samples"].shape == (data.HELD_OUT, 2)
        assert s.inputs["x_train"].dtype == s.targets["samples"].dtype == np.float32
        assert s.secret_id == PUBLIC.id
        assert list(s.public()) == [f"{s.name}.x_train"]  # no held-out point enters the job


def test_confirmation_draws_fresh_seeds():
    assert [s.name for s in data.confirmation(PUBLIC)] == [
        f"{shape}-s{seed}" for seed in data.FRESH_SEEDS for shape in data.SHAPES
    ]


@pytest.mark.parametrize("shape", data.SHAPES)
def test_training_points_are_standardised_and_held_out_points_share_their_distribution(shape):
    train, held_out = data.cloud(shape, 0)
    assert np.allclose(train.mean(0), 0.0, atol=1e-5)
    assert np.sqrt((train.astype(np.float64) ** 2).sum(1).mean()) == pytest.approx(1.0, abs=1e-5)
    assert np.abs(held_out.mean(0)).max() < 0.1  # the same cloud, standardised alike
    assert np.sqrt((held_out.astype(np.float64) ** 2).sum(1).mean()) == pytest.approx(1, abs=0.05)
    # no held-out point is a training point
    gaps = ((held_out[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    assert gaps.min() > 0


@pytest.mark.parametrize("shape", data.SHAPES)
def test_the_points_depend_on_the_secret_and_the_seed_and_nothing_else(shape):
    a_train, a_held = data.cloud(shape, 0, PUBLIC)
    again = data.cloud(shape, 0, PUBLIC)
    assert np.array_equal(a_train, again[0]) and np.array_equal(a_held, again[1])
    assert not np.allclose(a_train, data.cloud(shape, 0, OTHER)[0])
    assert not np.allclose(a_train, data.cloud(shape, 1, PUBLIC)[0])


def test_the_secret_curve_is_one_shape_per_installation():
    amplitudes, phases = data.curve_shape(PUBLIC)
    assert amplitudes.shape == phases.shape == (3,)
    assert ((amplitudes >= 0.08) & (amplitudes <= 0.22)).all()
    assert np.array_equal(data.curve_shape(PUBLIC)[0], amplitudes)
    assert not np.allclose(data.curve_shape(OTHER)[0], amplitudes)
    # a radius of 1 + sum a_k cos(...) never reaches 0: a closed curve around the centre
    theta = np.linspace(0, 2 * np.pi, 721)
    radius = 1 + (amplitudes * np.cos(np.outer(theta, [2, 3, 4]) + phases)).sum(1)
    assert radius.min() > 0.3


def test_the_line_is_one_dimensional_and_the_circles_two_rings():
    train, _ = data.cloud("line", 0)
    spread = np.linalg.svd(train - train.mean(0), compute_uv=False)
    assert spread[1] / spread[0] < 0.05
    train, _ = data.cloud("circles", 0)
    radius = np.sqrt((train.astype(np.float64) ** 2).sum(1))
    assert np.histogram(radius, bins=[0, 0.9, 1.1, 10])[0][1] < 50  # none between the rings


def test_an_unknown_shape_is_an_error():
    with pytest.raises(ValueError, match="unknown shape 'star'"):
        data.cloud("star", 0)
