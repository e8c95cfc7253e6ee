"""The preprocessing task in the real sandbox: its baselines, hand-written hypotheses, the rules
enforced by the harness (leakage impossible by construction)."""

from __future__ import annotations

import pytest

from core.records import Outcome
from evaluators.preprocess import data
from evaluators.preprocess.harness import PreprocessEvaluator

SMALL = [data.raw_split("wine", 0), data.raw_split("breast_cancer", 1)]
STANDARDISE = (PreprocessEvaluator.folder / "baselines" / "standardise.py").read_text()


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    return PreprocessEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SMALL, wall_seconds=60
    )


def test_a_baseline_as_candidate_ties_itself_and_beats_raw_features(ev):
    report = ev.evaluate(STANDARDISE)
    assert report.status is Outcome.OK, report.reason
    for name, score in report.per_dataset.items():
        assert score.candidate == score.baselines["standardise"], name
        assert score.candidate > score.baselines["identity"], name  # raw wine/cancer features
    assert report.comparisons == 2 * 4


def test_using_test_statistics_cannot_leak(ev):
    """The test set is transformed one row at a time: 'fitting' on X_test sees a single row."""
    leak = (
        "import numpy as np\n\ndef preprocess(X_train, X_test):\n"
        "    m, s = X_test.mean(0), X_test.std(0) + 1e-6\n"
        "    return (X_train - m) / s, (X_test - m) / s\n"
    )
    report = ev.evaluate(leak)
    assert report.status is Outcome.OK
    assert report.win_rate < 0.5  # the would-be leak only hurts the hypothesis


@pytest.mark.parametrize(
    ("body", "outcome", "reason"),
    [
        ("return X_train[:, :1].astype(np.int64), X_test[:, :1]", Outcome.INVALID, "float"),
        ("return X_train, X_test[:, :1]", Outcome.INVALID, "must be float [1,"),
        ("return np.tile(X_train, 9), np.tile(X_test, 9)", Outcome.INVALID, "columns; allowed"),
        ("return X_train + np.random.rand(*X_train.shape), X_test", Outcome.INVALID,
         "not deterministic"),
        ("return X_train / 0.0, X_test", Outcome.INVALID, "non-finite"),
        ("return np.linalg.inv(X_train[:2, :2] * 0.0), X_test", Outcome.HYP_ERROR,
         "LinAlgError: Singular matrix"),
    ],
)  # fmt: skip
def test_rules_are_enforced_by_the_harness(ev, body, outcome, reason):
    source = f"import numpy as np\n\ndef preprocess(X_train, X_test):\n    {body}\n"
    report = ev.evaluate(source, static_check=False)  # the runner's rules, whatever got past
    assert report.status is outcome
    assert reason in report.reason


# A red team's hypothesis: where training rows arrive in the dataset's stored order (class by
# class for iris, wine and spirals), each row's label follows from its position, and
# nearest-neighbour votes over those labels become features; otherwise it standardises.
ROW_ORDER = """import numpy as np


def preprocess(X_train, X_test):
    mu = X_train.mean(axis=0)
    sd = X_train.std(axis=0) + 1e-8
    A = (X_train - mu) / sd
    B = (X_test - mu) / sd
    n = A.shape[0]
    step = np.sqrt(((A[1:] - A[:-1]) ** 2).sum(axis=1)).mean()
    half = np.concatenate([A[n // 2 :], A[: n // 2]], axis=0)
    far = np.sqrt(((A - half) ** 2).sum(axis=1)).mean()
    if step >= 0.8 * far:
        return A, B
    lab = np.searchsorted(np.array([1.0 / 3.0, 2.0 / 3.0]), np.arange(n) / n, side="right")
    onehot = (lab[:, None] == np.arange(3)[None, :]).astype(np.float64)
    da = ((A[:, None, :] - A[None, :, :]) ** 2).sum(axis=2)
    da = np.where(da == 0.0, np.inf, da)
    va = onehot[np.argsort(da, axis=1)[:, :7]].mean(axis=1)
    db = ((B[:, None, :] - A[None, :, :]) ** 2).sum(axis=2)
    db = np.where(db == 0.0, np.inf, db)
    vb = onehot[np.argsort(db, axis=1)[:, :7]].mean(axis=1)
    return (
        np.concatenate([A, 3.0 * (va - 1.0 / 3.0)], axis=1),
        np.concatenate([B, 3.0 * (vb - 1.0 / 3.0)], axis=1),
    )
"""


def test_training_rows_in_stored_order_cannot_be_labelled_by_position(docker_sandbox, settings):
    """The rows come in a secret order, so the position of a row says nothing of its class:
    the hypothesis scores exactly what standardising does (it scored spirals 1.0 against 0.51
    when rows came in the stored order)."""
    splits = [data.raw_split("spirals", 0), data.raw_split("wine", 0)]
    ev = PreprocessEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=splits, wall_seconds=60
    )
    report = ev.evaluate(ROW_ORDER)
    assert report.status is Outcome.OK, report.reason
    for name, score in report.per_dataset.items():
        assert score.candidate == score.baselines["standardise"], name
