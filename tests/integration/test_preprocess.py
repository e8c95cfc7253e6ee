"""The preprocessing task in the real sandbox: its baselines, hand-written hypotheses, the rules
enforced by the harness (leakage impossible by construction)."""

from __future__ import annotations

import pytest

from evaluators.preprocess import data
from evaluators.preprocess.harness import PreprocessEvaluator
from hypoforge.records import Outcome

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
