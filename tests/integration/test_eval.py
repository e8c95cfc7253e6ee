"""The activation evaluator end to end in the real sandbox, including hostile hypotheses that
bypass the static check and the runner's curated builtins (neither is the boundary): ``ESCAPED``
reaches the real builtins through ``torch.sys``, as code that got past both would."""

import numpy as np
import pytest

from core.records import Outcome
from core.settings import Limits
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets

pytestmark = pytest.mark.serial  # short walls and timing bounds: run alone (Makefile)

SMALL = [datasets.split("iris", 0), datasets.split("moons", 0)]
RELU = "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"
ESCAPED = RELU + "B = torch.sys.modules['builtins']\n"  # the real builtins module


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
    hostile = ESCAPED + (
        "json = B.__import__('json')\n"
        "json.dump({'accuracy': 1.0, 'win_rate': 1.0}, B.open('/hf/out/metrics.json', 'w'))\n"
        "json.dump({'candidate': {'stage': 'done'}}, B.open('/hf/out/status.json', 'w'))\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.OK
    assert report.win_rate == relu_small.win_rate
    assert report.per_dataset == relu_small.per_dataset


def test_test_labels_are_nowhere_in_the_container(small_eval):
    hostile = ESCAPED + (
        "os, np = B.__import__('os'), B.__import__('numpy')\n"
        "found = []\n"
        "for root in ('/hf', '/tmp'):\n"
        "    for d, _, files in os.walk(root):\n"
        "        for f in files:\n"
        "            if f.endswith('.npz'):\n"
        "                found += [k for k in np.load(os.path.join(d, f)).files if 'y_test' in k]\n"
        "B.print('LABELS-FOUND' if found else 'LABELS-ABSENT', flush=True)\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.OK
    assert "LABELS-ABSENT" in report.log_tail


def test_nan_during_training_is_nonfinite_and_never_ranked(small_eval, monkeypatch):
    hostile = (
        "import torch\ncalls = [0]\n\ndef activation(x):\n"
        "    calls[0] += 1\n"
        "    return torch.relu(x) if calls[0] < 10 else x * float('nan')\n"
    )
    # The training-time elementwise check would catch the switch to NaN as a change of
    # behaviour when it falls on a watched call (drawn at random); this test is about the
    # non-finite predictions, so no training call is watched here.
    draw = small_eval.draw_checks

    def unwatched(rng, splits, spec):
        checks = draw(rng, splits, spec)
        return {**checks, "watch": {s: {"calls": [], "seed": 0} for s in checks["watch"]}}

    monkeypatch.setattr(small_eval, "draw_checks", unwatched)
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.NONFINITE
    assert report.win_rate is None


def test_predictions_rewritten_at_exit_are_invalid_result(small_eval):
    hostile = ESCAPED + (
        "atexit, np = B.__import__('atexit'), B.__import__('numpy')\n"
        "atexit.register(lambda: np.save('/hf/out/candidate.iris-s0.npy', np.zeros((2, 2))))\n"
    )
    report = small_eval.evaluate(hostile, static_check=False)
    assert report.status is Outcome.INVALID_RESULT
    n_test = len(SMALL[0].y_test)
    assert f"iris-s0: logits float64[2, 2], expected float[{n_test}, 3]" in report.reason


def test_error_during_training_is_hyp_error(small_eval):
    hostile = (
        "import torch\ncalls = [0]\n\ndef activation(x):\n"
        "    calls[0] += 1\n"
        "    if calls[0] > 10:\n"
        "        raise torch.sys.modules['builtins'].ArithmeticError('diverged on purpose')\n"
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
    hostile = ESCAPED + "blocks = [B.bytearray(64 * 2**20) for _ in range(100)]\n"
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


def test_probe_finds_faults_and_behavioural_twins_each_alone(small_eval):
    """Each hypothesis of a round is probed in a container of its own: the two spellings of
    swish get the same fingerprint, a function that overflows is named, and one that loops
    forever fails its own probe without touching the verdict on the others."""
    from evaluators.fingerprint import same_behaviour

    sources = {
        "a": "import torch\n\ndef activation(x):\n    return x * torch.sigmoid(x)\n",
        "b": "import torch\n\ndef activation(x):\n    return x / (1 + torch.exp(-x))\n",
        "c": "import torch\n\ndef activation(x):\n    return torch.exp(x) * torch.sin(x)\n",
        "d": "import torch\n\ndef activation(x):\n    return torch.tanh(x)\n",
    }
    found = small_eval.probe_many(sources)
    assert found["a"].problem is None and found["b"].problem is None
    assert same_behaviour(np.array(found["a"].fingerprint), np.array(found["b"].fingerprint))
    assert not same_behaviour(np.array(found["a"].fingerprint), np.array(found["d"].fingerprint))
    assert found["c"].problem.startswith("non-finite output")
    assert found["c"].fingerprint is None
    hang = "def activation(x):\n    while True:\n        pass\n"
    spoiled = small_eval.probe_many({"d": sources["d"], "hang": hang}, wall_seconds=5.0)
    assert spoiled["d"].problem is None
    assert same_behaviour(np.array(spoiled["d"].fingerprint), np.array(found["d"].fingerprint))
    assert spoiled["hang"].problem.startswith("the probe timeout: killed after the 5 s")
    assert spoiled["hang"].fingerprint is None


def test_batched_evaluation_scores_each_hypothesis_as_if_alone(small_eval, relu_small):
    tanh = "import torch\n\ndef activation(x):\n    return torch.tanh(x)\n"
    bad = "import torch\n\ndef activation(x):\n    return x * 0.0 + 1.0\n"
    reports = small_eval.evaluate_many({"r": RELU, "t": tanh, "bad": bad})
    assert reports["r"].status is Outcome.OK
    assert reports["r"].win_rate == relu_small.win_rate  # same as its own container
    assert reports["t"].status is Outcome.OK
    assert reports["t"].win_rate == small_eval.evaluate(tanh).win_rate
    assert reports["bad"].status is Outcome.INVALID and "constant" in reports["bad"].reason
    assert small_eval.behaviour(reports["t"], "t") is not None


def test_every_published_component_passes_its_probe_in_one_container(small_eval):
    """The catalogue's components (trusted code) are probed together, in one container: each
    passes the property probe, and a rewritten Mish probed as a hypothesis is Mish."""
    from evaluators import catalogue
    from evaluators.registry import get

    entries = [c for c in catalogue.load(get("activation").folder) if c.code]
    found = small_eval.probe_many({c.name: c.code or "" for c in entries}, together=True)
    problems = {name: p.problem for name, p in found.items() if p.fingerprint is None}
    assert set(found) == {c.name for c in entries} and problems == {}
    known = [(c, found[c.name].fingerprint) for c in entries]
    rewrite = (
        "import torch\n\ndef activation(x):\n    return x * torch.tanh(torch.log1p(torch.exp(x)))\n"
    )
    (probe,) = small_eval.probe_many({"h": rewrite}).values()
    component, kind, _ = catalogue.match(probe.fingerprint, known)
    assert (component.name, kind) == ("Mish", "same")
