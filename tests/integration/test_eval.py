"""The activation evaluator end to end in the real sandbox, including hostile hypotheses that
bypass the static check (it is a filter, not the boundary)."""

import numpy as np
import pytest

from evaluators.activation import datasets
from evaluators.activation.harness import ActivationEvaluator
from hypoforge.records import Outcome
from hypoforge.settings import Limits

SMALL = [datasets.split("iris", 0), datasets.split("moons", 0)]
RELU = "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"


@pytest.fixture(scope="module")
def full_eval(docker_sandbox, settings):
    return ActivationEvaluator(docker_sandbox, settings.home, settings.sandbox.limits)


@pytest.fixture(scope="module")
def small_eval(docker_sandbox, settings):
    limits = settings.sandbox.limits.model_copy(update={"memory_mb": 768})
    return ActivationEvaluator(docker_sandbox, settings.home, limits, splits=SMALL, wall_seconds=20)


@pytest.fixture(scope="module")
def relu_small(small_eval):
    return small_eval.evaluate(RELU)


def test_relu_ties_the_relu_baseline_exactly_and_wins_about_half(full_eval, docker_sandbox):
    report = full_eval.evaluate(RELU, "one-pass")
    assert report.status is Outcome.OK, report.reason
    assert report.comparisons == 7 * 3 * 4
    # Same splits, inits and steps for everyone: ReLU as a candidate reproduces the baseline.
    for dataset, score in report.per_dataset.items():
        assert score.candidate == score.baselines["relu"], dataset
    assert 0.35 <= report.win_rate <= 0.8
    lo, hi = report.win_rate_ci
    assert lo <= report.win_rate <= hi
    assert report.image == docker_sandbox.image_ref()


def test_zero_function_is_rejected_by_the_property_check(full_eval):
    report = full_eval.evaluate("def activation(x):\n    return x * 0\n")
    assert report.status is Outcome.INVALID
    assert report.reason == "constant output: the function carries no information about x"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "import torch\n\ndef activation(x):\n    return torch.exp(x)\n",
            "non-finite output at x=100",
        ),
        ("def activation(x):\n    return x.sum()\n", "changes the shape of its input"),
        ("import torch\n\ndef activation(x):\n    return x - x.mean()\n", None),
        ("import torch\n\ndef activation(x):\n    return torch.relu(x).round()\n", None),
        ("def activation(x):\n    return x * 1.7 - 0.39\n", "affine on [-20, 20]"),
    ],
    ids=["overflow", "reduces", "batch-dependent", "piecewise constant", "affine"],
)
def test_property_check_rejects_unusable_functions(small_eval, source, reason):
    report = small_eval.evaluate(source, static_check=False)
    assert report.status is Outcome.INVALID
    if reason:
        assert report.reason.startswith(reason)


def test_fake_metrics_file_does_not_change_the_score(small_eval, relu_small):
    hostile = RELU + (
        "import json\n"
        "json.dump({'accuracy': 1.0, 'win_rate': 1.0}, open('/hf/out/metrics.json', 'w'))\n"
        "json.dump({'candidate': {'stage': 'done'}}, open('/hf/out/status.json', 'w'))\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.OK
    assert report.win_rate == relu_small.win_rate
    assert report.per_dataset == relu_small.per_dataset


def test_test_labels_are_nowhere_in_the_container(small_eval):
    hostile = RELU + (
        "import os, numpy as np\n"
        "found = []\n"
        "for root in ('/hf', '/tmp'):\n"
        "    for d, _, files in os.walk(root):\n"
        "        for f in files:\n"
        "            if f.endswith('.npz'):\n"
        "                found += [k for k in np.load(os.path.join(d, f)).files if 'y_test' in k]\n"
        "print('LABELS-FOUND' if found else 'LABELS-ABSENT', flush=True)\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.OK
    assert "LABELS-ABSENT" in report.log_tail


def test_nan_during_training_is_nonfinite_and_never_ranked(small_eval):
    hostile = (
        "import torch\ncalls = [0]\n\ndef activation(x):\n"
        "    calls[0] += 1\n"
        "    return torch.relu(x) if calls[0] < 10 else x * float('nan')\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.NONFINITE
    assert report.win_rate is None


def test_predictions_rewritten_at_exit_are_invalid_result(small_eval):
    hostile = RELU + (
        "import atexit, numpy as np\n"
        "atexit.register(lambda: np.save('/hf/out/candidate.iris-s0.npy', np.zeros((2, 2))))\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.INVALID_RESULT
    assert "iris-s0: logits float64[2, 2], expected float[45, 3]" in report.reason


def test_error_during_training_is_hyp_error(small_eval):
    hostile = (
        "import torch\ncalls = [0]\n\ndef activation(x):\n"
        "    calls[0] += 1\n"
        "    if calls[0] > 10:\n"
        "        raise ArithmeticError('diverged on purpose')\n"
        "    return torch.relu(x)\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.HYP_ERROR
    assert report.reason == "ArithmeticError: diverged on purpose"


def test_hang_is_a_timeout(docker_sandbox, settings):
    ev = ActivationEvaluator(docker_sandbox, settings.home, Limits(), splits=SMALL, wall_seconds=4)
    report = ev.evaluate(RELU + "while True:\n    pass\n", static_check=False)
    assert report.status is Outcome.TIMEOUT
    assert report.wall_seconds < 10


def test_memory_bomb_is_oom(small_eval):
    hostile = RELU + "blocks = [bytearray(64 * 2**20) for _ in range(100)]\n"
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.OOM


def test_container_sees_no_test_labels_file(small_eval):
    with np.load(small_eval.data_file()) as data:
        assert not [k for k in data.files if "y_test" in k]


def test_two_spellings_of_swish_have_the_same_behaviour(small_eval):
    from evaluators.fingerprint import same_behaviour

    a = small_eval.evaluate("import torch\n\ndef activation(x):\n    return x * torch.sigmoid(x)\n")
    b = small_eval.evaluate(
        "import torch\n\ndef activation(x):\n    return x / (1 + torch.exp(-x))\n"
    )
    c = small_eval.evaluate("import torch\n\ndef activation(x):\n    return torch.tanh(x)\n")
    fa, fb, fc = (small_eval.behaviour(r) for r in (a, b, c))
    assert fa is not None and fb is not None and fc is not None
    assert same_behaviour(np.asarray(fa), np.asarray(fb))
    assert not same_behaviour(np.asarray(fa), np.asarray(fc))
