"""The grokking task without the sandbox: the static check of edits, the grammars' edits, the
host's scoring of predictions, the parameter budget and the allowlists."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.records import Outcome
from evaluators.grokking import allowlist, data
from evaluators.grokking.harness import PARAMETER_BUDGET, GrokkingEvaluator
from evaluators.grokking.validator import StaticCheckError, check_edits, edited_script, template
from evaluators.template import fixed
from sandbox.base import RunResult


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


LR = edit("LR = 3e-3", "LR = 1e-2")
LR_LINE = template().splitlines().index("LR = 3e-3") + 1  # train.py's line numbers in errors


def test_a_good_edit_passes_and_changes_only_its_block():
    check_edits(LR)
    script = edited_script(LR)
    assert "LR = 1e-2\n" in script and "LR = 3e-3" not in script
    check_edits(
        edit(
            "    return F.cross_entropy(logits, targets)",
            "    return F.cross_entropy(logits, targets, label_smoothing=0.1)",
        )
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no edits"),
        (edit("LR = 3e-3", "LR = 3e-3"), "change nothing"),
        (edit("CHECKPOINTS = 40", "CHECKPOINTS = 4"), "outside the editable blocks"),
        (
            edit("LR = 3e-3", "import os\nLR = 1e-2"),
            f"line {LR_LINE}: Import is not allowed in a block",
        ),
        (edit("LR = 3e-3", "LR = 1e-2\ntorch.Tensor.argmax = None"), "only attributes of self"),
        (
            edit("LR = 3e-3", "LR = 1e-2\ntorch.manual_seed(1)"),
            "torch.manual_seed is not an allowed operation",
        ),
        (edit("LR = 3e-3", "LR = 1e-2\nCHECKPOINTS = 1"), "CHECKPOINTS belongs to the fixed part"),
        (edit("LR = 3e-3", "LR = D_MODEL.__class__"), "private and dunder"),
        (edit("LR = 3e-3", "LR = np.pi"), "np is not allowed in a block"),
        (edit("LR = 3e-3", "LR = eval('1')"), "eval is not allowed"),
        (edit("LR = 3e-3", "np = None"), "belongs to the fixed part"),
        (
            edit("LR = 3e-3", "def predict(m, t):\n    return t"),
            "predict is not allowed|fixed part",
        ),
        (
            edit(
                "    def forward(self, tokens):",
                "    def parameters(self, recurse=True):\n        return iter([])\n\n"
                "    def forward(self, tokens):",
            ),
            "overrides nn.Module's own method",
        ),
        (
            edit("def loss_fn(logits, targets, model):", "def loss(logits, targets, model):"),
            "must still define loss_fn",
        ),
        (edit("LR = 3e-3", "LR = = 1"), "syntax error"),
    ],
)
def test_bad_edits_are_rejected_with_a_reason(text, reason):
    with pytest.raises(StaticCheckError, match=reason):
        check_edits(text)


def _grammar_edits() -> list[str]:
    """Every SEARCH text the task's grammar can write."""
    gbnf = (GrokkingEvaluator.folder / "grammars" / "edits.gbnf").read_text()
    found = re.findall(r'"(?:<<<<<<< SEARCH\\n)?([^"]*?)\\n=======\\n', gbnf)
    assert len(found) == 8
    return [s.replace("\\n", "\n") for s in found]


def test_the_grammars_search_lines_are_train_py_lines():
    for search in _grammar_edits():
        assert template().count(search + "\n") == 1, search
    assert set(GrokkingEvaluator.grammars()) == {"proposer", "coder"}


def template_parameters(vocab: int) -> int:
    """The unedited template's parameter count, by its own fixed part (``template_fixed``)."""
    sys.modules.setdefault("template_fixed", fixed)
    namespace: dict = {"__name__": "template"}
    exec(compile(template(), "train.py", "exec"), namespace)
    model = namespace["Model"](vocab)
    optimizer = namespace["make_optimizer"](model)
    return int(fixed.count_parameters(model, optimizer, namespace))


def test_the_template_and_its_parameter_count():
    # 14,911 numbers in tensors, 8 outside (the layer norms' shapes, the optimizer's name): the
    # count the task's own machinery gave before the template kind
    assert template_parameters(data.PRIME + 1) == 14919
    assert template_parameters(14) == 13749  # tests/integration/test_grokking_redteam.py
    ev = GrokkingEvaluator.__new__(GrokkingEvaluator)
    assert "# >>> EDIT optimizer" in ev.description and "LR_SCALE_EMBED" in ev.description


def test_splits_rename_tokens_and_keep_answers_on_the_host():
    s = data.split(13, 0, steps=80)
    assert s.x_train.shape[1] == 3 and len(s.x_train) + len(s.x_test) == 13 * 13
    assert set(s.public()) == {
        f"{s.name}.{k}" for k in ("x_train", "y_train", "x_test", "n_classes", "steps")
    }
    a, b = s.x_train[:, 0], s.x_train[:, 1]
    assert not np.array_equal((a + b) % 13, s.y_train)  # the ids are renamed


@pytest.fixture()
def scorer(tmp_path: Path) -> GrokkingEvaluator:
    ev = GrokkingEvaluator.__new__(GrokkingEvaluator)
    ev.splits = [data.split(13, 0, steps=80)]
    ev.template_counts = lambda: {"add13-s0": template_parameters(14)}
    return ev


def _result(out: Path) -> RunResult:
    return RunResult(
        outcome=Outcome.OK,
        reason="",
        exit_code=0,
        out_dir=out,
        log_tail="",
        image="x",
        wall_seconds=1.0,
    )


def test_the_host_scores_the_area_under_the_accuracy_curve(scorer, tmp_path):
    s = scorer.splits[0]
    guesses = np.zeros((41, len(s.y_test)), dtype=np.int16)
    guesses[20:] = s.y_test  # right from the middle checkpoint on
    np.save(tmp_path / f"c.{s.name}.labels.npy", guesses)
    np.save(tmp_path / "c.params.npy", np.array([template_parameters(14)]))
    scored = scorer.score_output(_result(tmp_path), "c")
    assert scored.outcome is Outcome.OK and scored.flags == ()
    zeros = (s.y_test == 0).mean()
    assert scored.accuracy[("add13", 0)] == pytest.approx((21 + 20 * zeros) / 41)

    np.save(
        tmp_path / "c.params.npy",
        np.array([int(template_parameters(14) * (PARAMETER_BUDGET + 0.1))]),
    )
    assert "bigger model" in scorer.score_output(_result(tmp_path), "c").flags[0]

    np.save(tmp_path / f"c.{s.name}.labels.npy", guesses[:10].astype(np.float32))
    bad = scorer.score_output(_result(tmp_path), "c")
    assert bad.outcome is Outcome.INVALID_RESULT
    assert bad.reason == f"{s.name}: labels: float32[10, 85], expected integers[10, 85]"


def test_allowlisted_paths_exist_and_no_allowed_method_changes_a_tensor_in_place():
    modules = {"torch": torch, "nn": nn, "F": torch.nn.functional, "math": math}
    for path in allowlist.paths():
        root, *parts = path.split(".")
        obj = modules[root]
        for part in parts:
            obj = getattr(obj, part)  # raises if an allowed name is not there
    assert not [m for m in allowlist.METHODS if m.endswith("_") or m.startswith("_")]
    dangerous = {"data", "grad", "numpy", "step", "zero_grad", "backward", "storage", "ctypes"}
    assert not dangerous & allowlist.METHODS
    assert dangerous | {"format", "gi_frame", "f_back", "cell_contents"} <= (
        allowlist.dangerous_attributes()
    )
