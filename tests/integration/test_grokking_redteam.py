"""The grokking red-team cases that pass the static check, run in the real sandbox: the
strongest hidden-capacity edits the rules still allow are flagged as bigger models, with the
exact ratio, and leave no container behind."""

from __future__ import annotations

import pytest

from core.records import Outcome
from evaluators import redteam
from evaluators.grokking import data
from evaluators.grokking.harness import PARAMETER_BUDGET, GrokkingEvaluator
from evaluators.grokking.validator import check_edits
from tests.integration.conftest import own_containers

SMALL = [data.split(13, 0, steps=200)]
TEMPLATE_PARAMETERS = 13749  # the unedited template's count at vocab 14 (tests/unit/...grokking)
HEAD = """        self.head = nn.Linear(D_MODEL, vocab - 1)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -1]))
"""


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def hidden_mlp(holder: str, used: str) -> str:
    """An MLP on the answer position whose layers the model does not register as children."""
    return edit(
        HEAD,
        HEAD.replace(
            "\n\n    def forward",
            f"\n        {holder}\n\n    def forward",
        ).replace(
            "        return self.head(self.norm(x[:, -1]))\n",
            f"        h = x[:, -1]\n        h = h + {used}\n"
            "        return self.head(self.norm(h))\n",
        ),
    )


# 1. Two Linear layers in a plain list attribute, trained by an extra group of the optimizer.
PLAIN_LIST = hidden_mlp(
    "self.hidden = [nn.Linear(D_MODEL, 4 * D_MODEL), nn.Linear(4 * D_MODEL, D_MODEL)]",
    "self.hidden[1](F.gelu(self.hidden[0](h)))",
) + edit(
    '        {"params": list(model.blocks.parameters()), "lr": LR * LR_SCALE_BLOCKS},\n',
    '        {"params": list(model.blocks.parameters()), "lr": LR * LR_SCALE_BLOCKS},\n'
    '        {"params": [p for m in model.hidden for p in m.parameters()], "lr": LR},\n',
)
# 2. The same layers inside an object of a plain class of the block, never optimised.
PLAIN_OBJECT = edit(
    "class Model(nn.Module):\n",
    "class Memory:\n"
    '    """A plain object: not an nn.Module, so not a registered child."""\n\n'
    "    def __init__(self):\n"
    "        self.up = nn.Linear(D_MODEL, 4 * D_MODEL)\n"
    "        self.down = nn.Linear(4 * D_MODEL, D_MODEL)\n\n\n"
    "class Model(nn.Module):\n",
) + hidden_mlp("self.memory = Memory()", "self.memory.down(F.gelu(self.memory.up(h)))")
EXTRA = (32 * 128 + 128) + (128 * 32 + 32)  # the two hidden layers' weights and biases


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    return GrokkingEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SMALL, wall_seconds=120
    )


@pytest.mark.parametrize("edits", [PLAIN_LIST, PLAIN_OBJECT], ids=["plain-list", "plain-object"])
def test_hidden_capacity_passes_the_check_but_is_counted_and_flagged(ev, docker_sandbox, edits):
    check_edits(edits)  # the rules allow it: only the count can catch it
    report = ev.evaluate(edits)
    assert report.status is Outcome.OK, report.reason
    ratio = (TEMPLATE_PARAMETERS + EXTRA) / TEMPLATE_PARAMETERS
    assert report.flags == (
        f"bigger model: {ratio:.2f}x the template's parameters "
        f"(budget {PARAMETER_BUDGET:.2f}x); a win here is not a discovery",
    )
    assert own_containers(docker_sandbox) == []


# ---- training changes only what the optimizer trains (train.py's Watch) -----------------------

WATCHED = {c.number: c for c in redteam.CASES if c.task == "grokking" and c.number in (13, 14)}


@pytest.mark.parametrize("number", sorted(WATCHED), ids=["batchnorm-memory", "positional-out"])
def test_a_write_during_training_is_refused_and_leaves_nothing(
    number, docker_sandbox, settings, tmp_path
):
    """Case 13 (BatchNorm's running statistics keep the answers) and case 14 (a positional out
    slot) are past the static check, as code it missed (it refuses both): both end as broken
    rules at run time, with no score, no container and no attempt folder left."""
    case = WATCHED[number]
    found = redteam.run_case(case, docker_sandbox, tmp_path, settings.sandbox.limits)
    report = found.report
    assert found.problem is None, found.problem
    assert report.status is Outcome.INVALID and report.win_rate is None
    assert report.reason.startswith("add31-s0: training changed a tensor of shape")
    assert not list((tmp_path / "attempts" / "grokking").glob("a*"))
    assert own_containers(docker_sandbox) == []


def test_the_template_trains_unflagged_under_the_watch(ev, docker_sandbox):
    report = ev.evaluate(edit("LR = 3e-3\n", "LR = 3.1e-3\n"))
    assert report.status is Outcome.OK, report.reason
    assert report.flags == ()
    assert own_containers(docker_sandbox) == []


def test_a_table_kept_as_text_is_counted_and_flagged(ev, docker_sandbox):
    """A red team kept 65,536 fixed random numbers in a string parsed in forward (reported
    1.077x before, really 5.8x): the count sees them, and the flag says so."""
    edits = redteam.case_file("table_as_text.edits")
    check_edits(edits)
    report = ev.evaluate(edits)
    assert report.status is Outcome.OK, report.reason
    assert len(report.flags) == 1 and report.flags[0].startswith("bigger model: ")
    ratio = float(report.flags[0].split("bigger model: ")[1].split("x")[0])
    assert ratio > 5.0, report.flags
    assert own_containers(docker_sandbox) == []
