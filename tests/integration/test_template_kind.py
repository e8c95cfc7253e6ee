"""The template kind in the real sandbox, on the tiny fixture task (a small MLP on Gaussian blobs
drawn from the secret, two splits, 40 full-batch steps at one-pass): the template and an honest
edit score, the control panel calibrates, and each red-team case gets its exact outcome."""

from __future__ import annotations

import numpy as np
import pytest

from core.records import Outcome
from evaluators import calibration
from evaluators.kit.secrets import PUBLIC
from tests.unit.evaluators.template.helpers import LR_EDIT, TINY, WIDE_EDIT, tiny_class

pytestmark = pytest.mark.slow

NET = (
    "        self.net = nn.Sequential("
    "nn.Linear(d, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, classes))\n"
)
LOSS = "def loss_fn(logits, targets, model):\n    return F.cross_entropy(logits, targets)\n"


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    cls = tiny_class()
    limits = settings.sandbox.limits
    return cls(docker_sandbox, settings.home, limits, splits=cls.splits_for("selection", PUBLIC))


def test_the_unedited_template_ties_its_baseline(ev):
    report = ev.evaluate("", static_check=False)  # no edits: the baseline's own script
    assert report.status is Outcome.OK, report.reason
    score = report.per_dataset["blobs"]
    assert score.candidate == score.baselines["template"]
    assert 0.6 < score.candidate <= 1.0  # the blobs are learnable in the rung's steps
    assert (report.win_rate, report.comparisons, report.flags) == (0.5, 2, ())


def test_an_honest_edit_is_scored(ev):
    report = ev.evaluate(LR_EDIT)
    assert report.status is Outcome.OK, report.reason
    assert (
        report.per_dataset["blobs"].candidate != report.per_dataset["blobs"].baselines["template"]
    )
    assert report.flags == ()


def test_a_bigger_model_is_flagged(ev):
    report = ev.evaluate(WIDE_EDIT)
    assert report.status is Outcome.OK, report.reason
    assert report.flags == (
        "bigger model: 1.98x the template's parameters (budget 1.10x); a win here is not a "
        "discovery",
    )


REFUSED = [
    (  # more steps than the rung: the fixed loop's range cannot be rebound...
        edit("LR = 1e-2\n", "LR = 1e-2\n\n\ndef range(n):\n    return [0] * (10 * n)\n"),
        "train.py line 16: range is a Python builtin, which the fixed part relies on; a block "
        "may not rebind it (choose another name)",
    ),
    (  # ...nor can a block step the optimizer itself
        edit(LOSS, LOSS.replace("    return", "    model.step()\n    return")),
        "train.py line 42: .step is not an allowed attribute or method in a block (tensor and "
        "module methods such as view, softmax, mean, parameters; and what the blocks define)",
    ),
    (
        edit(
            "LR = 1e-2\n",
            "LR = 1e-2\n\n\ndef train_and_predict(inputs, rung, seed, checks):\n    return 0\n",
        ),
        "train.py line 16: train_and_predict belongs to the fixed part; a block may not rebind it",
    ),
    (
        edit(LOSS, LOSS.replace("    return", "    template_fixed.Watch = None\n    return")),
        "train.py line 42: template_fixed is the fixed part's; a block may not name it",
    ),
]


@pytest.mark.parametrize(("source", "reason"), REFUSED)
def test_the_static_check_refuses(ev, source, reason):
    report = ev.evaluate(source)
    assert (report.status, report.reason) == (Outcome.INVALID, reason)


def test_running_statistics_changed_by_training_break_the_rule(ev):
    batchnorm = NET.replace("nn.ReLU(),", "nn.BatchNorm1d(HIDDEN), nn.ReLU(),")
    source = edit(NET, batchnorm)
    assert ev.static_problem(source) == (
        "train.py line 23: nn.BatchNorm1d keeps running statistics, which training may not "
        "change (only the optimizer's step may): pass track_running_stats=False"
    )
    report = ev.evaluate(source, static_check=False)  # as if it got past the static check
    assert report.status is Outcome.INVALID
    # One of the BatchNorm layer's buffers (net.1): which one the walk meets first is torch's.
    assert report.reason.startswith("blobs-s0: training changed a tensor of shape [")
    assert "] (net.1.num_batches_tracked) " in report.reason or "] (net.1.running_" in report.reason
    assert report.reason.endswith(
        "only the optimizer's step may change anything, and only the parameters it trains "
        "(running statistics such as BatchNorm's are state: track_running_stats=False)"
    )


def test_the_targets_are_not_in_the_job(ev):
    with np.load(ev.data_file()) as data:
        keys = sorted(data)
    assert keys == [
        f"blobs-s{i}.{k}" for i in (0, 1) for k in ("n_classes", "x_eval", "x_train", "y_train")
    ]
    # What an escaped hypothesis finds when it opens the data file itself.
    peek = edit(
        "LR = 1e-2\n",
        "LR = 1e-2\nB = torch.sys.modules['builtins']\n"
        "raise B.ValueError(','.join(sorted(torch.sys.modules['numpy'].load('/hf/data.npz'))))\n",
    )
    report = ev.evaluate(peek, static_check=False)
    assert report.status is Outcome.INVALID
    assert report.reason == f"ValueError: {','.join(keys)}"


def test_calibration_separates_the_tiny_controls(ev, settings):
    result = calibration.calibrate(ev, calibration.panel(TINY), "one-pass")
    assert [c["status"] for c in result["controls"]] == ["ok", "ok"], result["controls"]
    assert [(p["worse"], p["better"], p["verdict"]) for p in result["pairs"]] == [
        ("lr_thousandth", "template_recipe", calibration.SEPARATED)
    ]
    assert result["task"] == "tiny" and result["metric"] == "held-out accuracy"
