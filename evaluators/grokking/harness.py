"""Host side of the grokking task: hypotheses are SEARCH/REPLACE edits to ``train.py``.

The host applies and checks the edits, sends the edited script into the sandbox, and scores the
predictions that come back: the score of one (dataset, seed) cell is the mean held-out accuracy
over the checkpoints, the area under the accuracy curve, which rewards generalising sooner.
The parameter count the fixed part of the script reports (every tensor reachable from the model,
the optimizer and the blocks' objects, in any kind of object) is compared with the unedited
template's, counted here by the same fixed code: a win by a model over ``PARAMETER_BUDGET`` times
the template's size is flagged as a bigger-model result, not a discovery. The fixed part also
refuses any change training makes outside the optimizer's step (checked in full at steps the
host draws per job, ``draw_checks``). The static check (``validator``) keeps the
blocks from rebinding what that fixed code uses or from training anything outside it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from core.records import Outcome
from evaluators.edits import blocks
from evaluators.grokking import data
from evaluators.grokking.validator import check_edits, edited_script, template
from evaluators.kit.budgets import Budget
from evaluators.kit.files import TaskFiles
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.scoring import MAX_PREDICTIONS_BYTES, Scored
from evaluators.kit.splits import Split, SplitSets, cell
from sandbox.artifacts import ArtifactError, read_npy

HERE = Path(__file__).parent
PARAMETER_BUDGET = 1.10  # times the template's parameter count
WATCHED_STEPS = 16  # training steps per split where train.py's Watch compares everything
STEP_SCALE = {"one-pass": 1, "short": 2, "full": 3}
CHECKPOINTS = 40  # as in train.py's fixed part


class CurveArea:
    """Scores ``<name>.<split>.npy``, the predicted answers at each checkpoint [CHECKPOINTS + 1,
    n_held_out], by the mean held-out accuracy over the checkpoints, and flags a model over
    ``PARAMETER_BUDGET`` times the template's parameters (``<name>.params.npy``, one count per
    split, from the script's fixed part)."""

    metric = "area under the held-out accuracy curve"

    def score(self, out_dir: Path, name: str, splits: list[Split]) -> Scored:
        accuracy = {}
        for s in splits:
            try:
                guesses = read_npy(out_dir, f"{name}.{s.name}.npy", MAX_PREDICTIONS_BYTES)
            except ArtifactError as exc:
                return Scored(Outcome.INVALID_RESULT, str(exc))
            want = (CHECKPOINTS + 1, len(s.y_test))
            if guesses.shape != want or guesses.dtype.kind not in "iu":
                got = f"{guesses.dtype}{list(guesses.shape)}"
                why = f"{s.name}: predictions {got}, expected integers{list(want)}"
                return Scored(Outcome.INVALID_RESULT, why)
            accuracy[cell(s.name)] = float(curve(guesses, s.y_test).mean())
        try:
            counts = read_npy(out_dir, f"{name}.params.npy", 4096)
        except ArtifactError as exc:
            return Scored(Outcome.INVALID_RESULT, str(exc))
        if counts.shape != (len(splits),) or counts.dtype.kind not in "iu":
            return Scored(Outcome.INVALID_RESULT, "malformed parameter counts")
        ratio = max(
            int(n) / template_parameters(s.n_classes + 1)
            for n, s in zip(counts, splits, strict=True)
        )
        flags: tuple[str, ...] = ()
        if ratio > PARAMETER_BUDGET:
            flags = (
                f"bigger model: {ratio:.2f}x the template's parameters "
                f"(budget {PARAMETER_BUDGET:.2f}x); a win here is not a discovery",
            )
        return Scored(Outcome.OK, "", accuracy, flags=flags)


class GrokkingEvaluator(SandboxedEvaluator):
    """Scores edits to train.py by how soon the edited script generalises."""

    task: ClassVar[str] = "grokking"
    # The version this harness had before the kit existed (tests/unit/evaluators/test_kit_pins.py).
    files: ClassVar[TaskFiles] = TaskFiles(
        HERE, baselines=("template",), baseline_suffix=".edits", version="1b65b48bbcb8"
    )
    # Selection: a + b mod 31; confirmation: fresh seeds, also mod 23 and 29; hard: a + b mod 37
    # (``evaluators.grokking.data``).
    split_sets: ClassVar[SplitSets] = SplitSets(
        selection=lambda secret: data.all_splits(secret=secret),
        confirmation=lambda secret: data.confirmation_splits(secret=secret),
        hard=lambda secret: data.hard_splits(secret=secret),
    )
    scorer: ClassVar[CurveArea] = CurveArea()

    validate = staticmethod(check_edits)

    @property
    def description(self) -> str:
        editable = "\n".join(
            f"# >>> EDIT {b.name}\n{b.body}# <<< EDIT {b.name}" for b in blocks(template())
        )
        text = (self.folder / "description.md").read_text().strip()
        notes = (self.folder / "notes.md").read_text().strip()
        return f"{text}\n\n{notes}\n\nThe editable blocks of train.py:\n```python\n{editable}\n```"

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split: the training steps where the fixed part compares everything the
        optimizer does not train (and the parameters across forward and backward), drawn from
        host randomness for this job."""
        by_name = {s.name: s for s in self.splits}
        checks = {}
        for split in splits:
            steps = int(getattr(by_name.get(split), "steps", data.STEPS)) * STEP_SCALE.get(
                spec.name, 1
            )
            drawn = rng.integers(0, max(steps, 1), size=WATCHED_STEPS)
            checks[split] = {"steps": sorted({int(v) for v in drawn})}
        return checks

    def train_config(self, spec: Budget) -> dict:
        return {"step_scale": STEP_SCALE.get(spec.name, 1)}

    def runnable(self, source: str) -> str:
        """The container gets the edited script, never the edits to apply itself."""
        return edited_script(source)


@cache
def template_parameters(vocab: int) -> int:
    """The unedited template's parameter count, counted by its own fixed code (trusted: it is
    ours, not a hypothesis's)."""
    namespace: dict = {"__name__": "template"}
    exec(compile(template(), "train.py", "exec"), namespace)
    model = namespace["Model"](vocab)
    return int(namespace["count_parameters"](model, namespace["make_optimizer"](model)))


def curve(guesses: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Held-out accuracy at each checkpoint."""
    return (guesses == answers[None, :]).mean(axis=1)
