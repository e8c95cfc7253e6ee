"""The template kind's metrics: exact values on small arrays, higher always better, and total on
any array (never an exception: a reason instead)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from evaluators.template.metrics import METRICS, Bad


def value(metric: str, pred, target) -> float | Bad:
    return METRICS[metric].score(np.asarray(pred), np.asarray(target))


def test_accuracy_and_curve_area_count_exact_answers():
    assert value("accuracy", [1, 2, 3, 0], [1, 2, 0, 0]) == 0.75
    assert value("curve_area", [[1, 0, 0], [1, 2, 3]], [1, 2, 3]) == pytest.approx(4 / 6)


def test_cross_entropy_renormalises_what_came_back():
    target = np.array([0, 1])
    uniform = np.zeros((2, 4))  # log-probabilities of 1 each: 4 in total per row
    assert value("cross_entropy", uniform, target) == pytest.approx(-math.log(4))
    assert value("bits_per_token", uniform, target) == pytest.approx(-2.0)
    sure = np.log(np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]]))
    assert value("cross_entropy", sure, target) == pytest.approx(math.log(0.5))
    # Claiming probability 1 for every character renormalises to 1/vocab each.
    assert value("bits_per_token", np.zeros((2, 65)), target) == pytest.approx(-math.log2(65))


def test_mse_is_negated():
    assert value("mse", np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])) == -2.5


def test_mmd_and_nn_kl_prefer_samples_from_the_held_out_distribution():
    rng = np.random.default_rng(0)
    held_out = rng.normal(size=(400, 2))
    same = rng.normal(size=(400, 2))
    shifted = rng.normal(size=(400, 2)) + 1.5
    for metric in ("mmd", "nn_kl"):
        good, bad = value(metric, same, held_out), value(metric, shifted, held_out)
        assert isinstance(good, float) and isinstance(bad, float)
        assert good > bad, metric
    assert abs(value("mmd", same, held_out)) < 0.01  # the unbiased estimate is near 0


def test_mmd_is_the_unbiased_estimate_with_the_median_bandwidth():
    x = np.array([[0.0], [1.0]])
    y = np.array([[0.0], [2.0], [4.0]])
    # Held-out squared distances 4, 16, 4: median 4, so k(a, b) = exp(-(a - b)^2 / 8).
    k = lambda a, b: math.exp(-((a - b) ** 2) / 8)  # noqa: E731
    xx = 2 * k(0, 1) / 2
    yy = 2 * (k(0, 2) + k(0, 4) + k(2, 4)) / 6
    xy = sum(k(a, b) for a in (0, 1) for b in (0, 2, 4)) / 6
    assert value("mmd", x, y) == pytest.approx(-(xx + yy - 2 * xy))


def test_nn_kl_follows_wang_kulkarni_verdu():
    y = np.array([[0.0], [1.0], [3.0]])  # held-out
    x = np.array([[0.5], [3.5]])  # samples
    # k = min(5, n - 1, m) = 2: rho = distance to the 2nd other held-out point, nu to the 2nd
    # sample.
    rho = np.array([3.0, 2.0, 3.0])
    nu = np.array([3.5, 2.5, 2.5])
    want = np.mean(np.log(nu / rho)) + math.log(2 / 2)
    assert value("nn_kl", x, y) == pytest.approx(-want)


@pytest.mark.parametrize(
    ("metric", "pred", "target", "reason"),
    [
        ("accuracy", [1.0, 2.0], [1, 2], "labels: float64[2], expected integers[2]"),
        ("accuracy", [1, 2, 3], [1, 2], "labels: int64[3], expected integers[2]"),
        (
            "cross_entropy",
            [[0.0, 0.0]],
            [2],
            "a target token lies outside the 2 columns of logprobs",
        ),
        ("cross_entropy", [[0.0, np.nan]], [0], "logprobs: non-finite values"),
        ("mmd", [[0.0, 1.0]] * 3, [[0.0]] * 3, "samples: float64[3, 2], expected floats[m, 1]"),
        ("mse", [[np.inf]], [[0.0]], "values: non-finite values"),
        ("curve_area", [1, 2], [1, 2], "labels: int64[2], expected integers[checkpoints + 1, n]"),
    ],
)
def test_malformed_predictions_give_a_reason(metric, pred, target, reason):
    got = value(metric, pred, target)
    assert isinstance(got, Bad) and got.reason == reason


def test_an_object_array_is_not_scored():
    got = METRICS["accuracy"].score(np.array([1, "x"], dtype=object), np.array([1, 2]))
    assert got == Bad("labels: not a numeric array")


DTYPES = st.sampled_from(
    [np.bool_, np.int8, np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64]
)


def arrays() -> st.SearchStrategy[np.ndarray]:
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)
    return DTYPES.flatmap(lambda d: hnp.arrays(d, shapes, elements=None))


@settings(max_examples=300)
@given(metric=st.sampled_from(sorted(METRICS)), pred=arrays(), target=arrays())
def test_every_metric_is_total_on_any_arrays(metric, pred, target):
    got = METRICS[metric].score(pred, target)
    assert isinstance(got, Bad) or (isinstance(got, float) and math.isfinite(got))


@settings(max_examples=100)
@given(
    metric=st.sampled_from(sorted(METRICS)),
    rows=st.integers(0, 7),
    cols=st.integers(1, 4),
    data=st.data(),
)
def test_every_metric_is_total_on_arrays_of_matching_shapes(metric, rows, cols, data):
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    pred = data.draw(hnp.arrays(np.float64, (rows, cols), elements=floats))
    labels = data.draw(hnp.arrays(np.int64, (rows,), elements=st.integers(-3, 6)))
    for target in (labels, pred.copy(), np.abs(np.nan_to_num(pred))):
        got = METRICS[metric].score(pred, target)
        assert isinstance(got, Bad) or (isinstance(got, float) and math.isfinite(got))
