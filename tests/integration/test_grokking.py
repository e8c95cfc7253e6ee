"""The grokking task in the real sandbox: the template against itself, hand-written edits, the
parameter budget and the failures an edited script can produce."""

from __future__ import annotations

import pytest

from core.records import Outcome
from evaluators.grokking import data
from evaluators.grokking.harness import GrokkingEvaluator

SMALL = [data.split(13, 0, steps=200), data.split(13, 1, steps=200)]


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    return GrokkingEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SMALL, wall_seconds=120
    )


def test_the_unedited_template_ties_its_baseline(ev):
    report = ev.evaluate("", static_check=False)  # no edits: the baseline's own script
    assert report.status is Outcome.OK, report.reason
    score = report.per_dataset["add13"]
    assert score.candidate == score.baselines["template"]
    assert report.win_rate == 0.5 and report.comparisons == 2 and report.flags == ()


def test_hand_written_edits_are_scored(ev):
    layerwise = edit("LR_SCALE_EMBED = 1.0", "LR_SCALE_EMBED = 3.0")
    smoothing = edit(
        "    return F.cross_entropy(logits, targets)",
        "    return F.cross_entropy(logits, targets, label_smoothing=0.1)",
    )
    for edits in (layerwise, layerwise + smoothing):
        report = ev.evaluate(edits)
        assert report.status is Outcome.OK, report.reason
        assert 0.0 <= report.per_dataset["add13"].candidate <= 1.0
        assert (
            report.per_dataset["add13"].candidate
            != report.per_dataset["add13"].baselines["template"]
        )  # the edit changed the run
        assert report.flags == ()


def test_a_bigger_model_is_flagged(ev):
    report = ev.evaluate(edit("D_MODEL = 32", "D_MODEL = 64"))
    assert report.status is Outcome.OK, report.reason
    assert report.flags and "bigger model" in report.flags[0]


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        (edit("BETA2 = 0.98", "BETA2 = 1.5"), "Invalid beta parameter"),
        (edit("LR = 3e-3", "LR = 1e6"), "FloatingPointError"),
        (edit("N_HEADS = 4", "N_HEADS = 5"), "divisible by num_heads"),
    ],
)
def test_an_edited_script_that_fails_says_why(ev, edits, reason):
    report = ev.evaluate(edits)
    assert report.status is Outcome.HYP_ERROR, report.reason
    assert reason in report.reason


def test_a_static_problem_never_reaches_the_sandbox(ev):
    report = ev.evaluate(edit("CHECKPOINTS = 40", "CHECKPOINTS = 1"))
    assert report.status is Outcome.INVALID and "outside the editable blocks" in report.reason
    assert report.image is None  # no container ran
