"""The kind's runner and fixed part, run on the host in a subprocess as the container would run
them (the fixture's own scripts: trusted code): the template scores, an honest edit scores, a
bigger model is flagged, and training or predicting that changes state is a broken rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.records import Outcome

from .helpers import LR_EDIT, WIDE_EDIT, HostSandbox, tiny

pytestmark = pytest.mark.slow

NET = (
    "        self.net = nn.Sequential("
    "nn.Linear(d, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, classes))\n"
)
COUNTER = (
    f"<<<<<<< SEARCH\n{NET}=======\n{NET}"
    "        self.seen = torch.zeros(1)\n"
    ">>>>>>> REPLACE\n"
    "<<<<<<< SEARCH\n        return self.net(x)\n=======\n"
    "        {when}\n            self.seen.add_(1.0)\n        return self.net(x)\n"
    ">>>>>>> REPLACE\n"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")  # one baseline run for the module


def test_an_honest_edit_scores_against_the_template(home):
    report = tiny(HostSandbox(), home).evaluate(LR_EDIT)
    assert report.status is Outcome.OK, report.reason
    assert set(report.cells) == {"blobs-s0", "blobs-s1"}
    assert all(0.3 < v <= 1.0 for v in report.cells.values())
    assert report.flags == ()
    template = {d: s.baselines["template"] for d, s in report.per_dataset.items()}
    assert 0.3 < template["blobs"] <= 1.0


def test_a_wider_model_is_flagged(home):
    report = tiny(HostSandbox(), home).evaluate(WIDE_EDIT)
    assert report.status is Outcome.OK, report.reason
    assert report.flags == (
        "bigger model: 1.98x the template's parameters (budget 1.10x); a win here is not a "
        "discovery",
    )


def test_a_tensor_changed_while_training_breaks_the_rule(home):
    source = COUNTER.format(when="if self.training:")
    report = tiny(HostSandbox(), home).evaluate(source, static_check=False)
    assert report.status is Outcome.INVALID
    # In which phase it is seen depends on the steps the host drew (step 0 watched or not).
    phase = report.reason.removeprefix("blobs-s0: training changed a tensor of shape [1] ")
    assert phase in (
        f"{when}; while training, only the optimizer's step may change anything, and only the "
        "parameters it trains"
        for when in ("in a training step", "while the loss and its gradients were computed")
    )


def test_a_tensor_changed_while_predicting_breaks_the_rule(home):
    source = COUNTER.format(when="if not self.training:")
    report = tiny(HostSandbox(), home).evaluate(source, static_check=False)
    assert report.status is Outcome.INVALID
    assert report.reason == (
        "blobs-s0: the model changed its own state while predicting: a tensor of shape [1]"
    )
