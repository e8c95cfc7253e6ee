"""The template kind's static check on the tiny fixture: a block may define modules, losses and
optimizers, never rebind what the fixed part uses nor name template_fixed; any text gives None
or StaticCheckError, never another exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators.static_check import StaticCheckError
from evaluators.template.check import Template

from .helpers import LR_EDIT, WIDE_EDIT, tiny_class

LOSS = "def loss_fn(logits, targets, model):\n    return F.cross_entropy(logits, targets)\n"


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def problem(source: str) -> str | None:
    return tiny_class().static_problem(source)


def test_the_fixed_names_come_from_the_template():
    assert tiny_class().template.fixed_names == {
        "F", "fixed", "math", "nn", "np", "template_fixed", "torch", "train_and_predict",
    }  # fmt: skip


def test_honest_edits_pass():
    assert problem(LR_EDIT) is None
    assert problem(WIDE_EDIT) is None
    label_smoothing = edit(LOSS, LOSS.replace("targets)", "targets, label_smoothing=0.1)"))
    assert problem(label_smoothing) is None
    sgd = edit(
        "    return torch.optim.Adam(model.parameters(), lr=LR)\n",
        "    return torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)\n",
    )
    assert problem(sgd) is None


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            edit(
                "LR = 1e-2\n",
                "LR = 1e-2\n\n\ndef train_and_predict(inputs, rung, seed, checks):\n    return 0\n",
            ),
            "train.py line 16: train_and_predict belongs to the fixed part; a block may not "
            "rebind it",
        ),
        (
            edit("LR = 1e-2\n", "LR = 1e-2\nfixed = 3\n"),
            "train.py line 14: fixed belongs to the fixed part; a block may not rebind it",
        ),
        (
            edit(LOSS, LOSS.replace("    return", "    template_fixed.Watch = None\n    return")),
            "train.py line 42: template_fixed is the fixed part's; a block may not name it",
        ),
        (
            edit(LOSS, LOSS.replace("    return", "    fixed.count_parameters\n    return")),
            "train.py line 42: fixed is not allowed in a block: a block may use torch, nn, F, "
            "math, the names the blocks define and the builtins abs, all, any, bool, dict, "
            "divmod, enumerate, float, int, isinstance, len, list, max, min, pow, range, "
            "reversed, round, slice, sorted, sum, tuple, zip",
        ),
        (  # more steps than the rung: a block cannot step the optimizer itself
            edit(LOSS, LOSS.replace("    return", "    model.step()\n    return")),
            "train.py line 42: .step is not an allowed attribute or method in a block (tensor "
            "and module methods such as view, softmax, mean, parameters; and what the blocks "
            "define)",
        ),
        (
            edit("LR = 1e-2\n", "LR = 1e-2\n\n\ndef range(n):\n    return [0]\n"),
            "train.py line 16: range is a Python builtin, which the fixed part relies on; a "
            "block may not rebind it (choose another name)",
        ),
        (
            edit(LOSS, LOSS + "\n\nclass Memory(nn.Module):\n    pass\n"),
            "train.py line 45: classes may be defined only at the top of the model block",
        ),
        (
            edit(
                LOSS,
                LOSS.replace(
                    "F.cross_entropy(logits, targets)", "F.cross_entropy(logits, torch.optim.SGD)"
                ),
            ),
            "train.py line 42: torch.optim.SGD may be built only in the optimizer block "
            "(make_optimizer)",
        ),
        (
            edit("class Model(nn.Module):\n", "class Net(nn.Module):\n"),
            "block 'model' must still define Model",
        ),
    ],
)
def test_hostile_edits_are_refused_with_their_reason(source, reason):
    assert problem(source) == reason


def test_the_blocks_that_build_models_and_optimizers_come_from_the_spec():
    script = (
        "import torch\nfrom torch import nn\n\n"
        "# >>> EDIT network\nclass Net(nn.Module):\n    pass\n# <<< EDIT network\n\n"
        "# >>> EDIT training\ndef opt(m):\n    return torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "# <<< EDIT training\n\n\ndef train_and_predict(inputs, rung, seed, checks):\n    pass\n"
    )
    Template(
        script, model_blocks=frozenset({"network"}), optimizer_blocks=frozenset({"training"})
    ).check_script(script)
    with pytest.raises(StaticCheckError) as err:
        Template(script).check_script(script)
    assert (
        str(err.value)
        == "train.py line 5: classes may be defined only at the top of the model block"
    )


def test_messages_name_the_tasks_script():
    script = "# >>> EDIT a\nimport os\n# <<< EDIT a\n"
    with pytest.raises(StaticCheckError) as err:
        Template(script, filename="experiment.py").check_script(script)
    assert str(err.value) == "experiment.py line 2: Import is not allowed in a block"


LINES = st.sampled_from(
    [
        "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "LR = 1e-2", "HIDDEN = 32", "LR = 3e-2",
        "def loss_fn(logits, targets, model):", "    return F.cross_entropy(logits, targets)",
        "    template_fixed.Watch = 1", "fixed = 2", "class Model(nn.Module):", "    pass",
        "    return torch.optim.Adam(model.parameters(), lr=LR)", "(((", "\x00", "# <<< EDIT loss",
    ]
)  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=14))
def test_any_text_gives_a_reason_or_passes(lines):
    ev = tiny_class()
    with contextlib.suppress(StaticCheckError):  # a reason, or it passes: nothing else
        ev.validate("\n".join(lines) + "\n")
