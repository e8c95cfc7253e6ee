"""The regularizer task in the real sandbox: its baselines, hand-written hypotheses and the rules
the runner enforces."""

from __future__ import annotations

import pytest

from core.records import Outcome
from evaluators.regularizer import data
from evaluators.regularizer.harness import RegularizerEvaluator

SMALL = [data.small_split("wine", 0), data.small_split("moons", 1)]
L2 = (RegularizerEvaluator.folder / "baselines" / "l2.py").read_text()


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    return RegularizerEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SMALL, wall_seconds=120
    )


def test_a_baseline_as_candidate_ties_itself(ev):
    report = ev.evaluate(L2)
    assert report.status is Outcome.OK, report.reason
    for name, score in report.per_dataset.items():
        assert score.candidate == score.baselines["l2"], name
    assert report.comparisons == 2 * 5
    assert 0.0 <= report.win_rate <= 1.0


def test_a_new_penalty_is_scored(ev):
    confidence = (
        "import torch.nn.functional as F\n\ndef penalty(model, logits, targets):\n"
        "    p = F.softmax(logits, dim=1)\n"
        "    return 0.1 * (p * F.log_softmax(logits, dim=1)).sum(dim=1).mean()\n"
    )
    report = ev.evaluate(confidence)
    assert report.status is Outcome.OK, report.reason
    assert report.win_rate is not None


@pytest.mark.parametrize(
    ("body", "outcome", "reason"),
    [
        ("return logits", Outcome.INVALID, "scalar float tensor"),
        ("return torch.rand(())", Outcome.INVALID, "not deterministic"),
        ("return torch.tensor(float('nan'))", Outcome.INVALID, "not finite"),
        ("return torch.sqrt(0.5 - logits.abs().mean())", Outcome.NONFINITE, "non-finite"),
    ],
)
def test_rules_are_enforced_in_the_sandbox(ev, body, outcome, reason):
    source = f"import torch\n\ndef penalty(model, logits, targets):\n    {body}\n"
    report = ev.evaluate(source, static_check=False)
    assert report.status is outcome, report.reason
    assert reason in report.reason
