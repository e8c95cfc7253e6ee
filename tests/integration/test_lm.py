"""The lm task in the real sandbox, red-teamed: a model that looks ahead is refused by the
causality probes; one that keeps what it is shown at evaluation is refused by the check (and,
past it, by the guard around every prediction); more steps than the budget and a rebound fixed
name never reach a container; a bigger model is flagged. One split of 300 steps per run."""

from __future__ import annotations

import pytest

from core.records import Outcome
from evaluators import registry
from evaluators.kit.secrets import PUBLIC
from evaluators.lm import data

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INIT = "        self.head = nn.Linear(D_MODEL, vocab)"
FORWARD = "        places = torch.arange(tokens.shape[1])"
# A table of every row shown at evaluation, kept on the model (to look up at a later checkpoint).
REMEMBER = (
    f"<<<<<<< SEARCH\n{INIT}\n=======\n{INIT}\n        self.seen = []\n>>>>>>> REPLACE\n"
    f"<<<<<<< SEARCH\n{FORWARD}\n=======\n        if not self.training:\n"
    f"            self.seen.append(tokens)\n{FORWARD}\n>>>>>>> REPLACE\n"
)


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    return registry.get("lm").make_evaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=[data.split(0, PUBLIC)]
    )


def test_the_unedited_template_passes_its_probes_and_ties_its_baseline(ev):
    report = ev.evaluate("", static_check=False)  # no edits: the baseline's own script
    assert report.status is Outcome.OK, report.reason
    score = report.per_dataset["shakespeare"]
    assert score.candidate == score.baselines["template"]
    assert -4.0 < score.candidate < -2.5  # minus bits per character after 300 steps
    assert report.flags == ()


def test_attention_that_looks_ahead_is_refused(ev):
    report = ev.evaluate(
        edit(
            "        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)",
            "        y = F.scaled_dot_product_attention(q, k, v, is_causal=False)",
        )
    )
    assert report.status is Outcome.INVALID and report.win_rate is None
    assert report.reason.startswith(
        "shakespeare-s0: looks ahead: 64 of 64 causality probes were predicted differently"
    )


def test_a_table_of_what_evaluation_showed_is_refused_by_the_check(ev):
    report = ev.evaluate(REMEMBER)
    assert report.status is Outcome.INVALID and report.image is None  # no container ran
    assert ".append may fill a list only while __init__ builds it" in report.reason


def test_past_the_check_the_table_is_refused_by_the_guard_on_predictions(ev):
    report = ev.evaluate(REMEMBER, static_check=False)
    assert report.status is Outcome.INVALID and report.win_rate is None
    assert report.reason.startswith(
        "shakespeare-s0: the model changed its own state while predicting"
    )


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        (
            edit('    steps = int(rung["steps"])', '    steps = 2 * int(rung["steps"])'),
            "which is outside the editable blocks",
        ),
        (edit("D_MODEL = 64", "D_MODEL = 64\nBATCH = 64"), "BATCH belongs to the fixed part"),
        (
            edit("D_MODEL = 64", "D_MODEL = 64\nCOUNT = template_fixed.count_parameters"),
            "template_fixed is the fixed part's; a block may not name it",
        ),
    ],
    ids=["more-steps", "rebind-batch", "name-the-fixed-module"],
)
def test_more_steps_and_rebinding_the_fixed_part_never_reach_the_sandbox(ev, edits, reason):
    report = ev.evaluate(edits)
    assert report.status is Outcome.INVALID and report.image is None
    assert reason in report.reason


def test_a_bigger_model_is_flagged(ev):
    report = ev.evaluate(edit("D_MODEL = 64", "D_MODEL = 96"))
    assert report.status is Outcome.OK, report.reason
    assert len(report.flags) == 1 and report.flags[0].startswith("bigger model: 2.")
