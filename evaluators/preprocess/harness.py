"""Host side of the preprocessing task: the kit's sandboxed evaluator with this task's runner,
raw-feature data, baselines and static check. The fixed MLP comes from the activation task's
runner file (mounted beside this task's), so both tasks train exactly the same network; it is
named by its path, not imported, so that no task module imports another task's."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from evaluators.kit.budgets import Budget
from evaluators.kit.files import TaskFiles
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.splits import SplitSets
from evaluators.preprocess import data
from evaluators.preprocess.validator import check_source

HERE = Path(__file__).parent
ACTIVATION_RUNNER = HERE.parent / "activation" / "runner.py"  # the fixed MLP both tasks train


class PreprocessEvaluator(SandboxedEvaluator):
    """Scores ``preprocess(X_train, X_test)`` hypotheses by win rate against the baselines."""

    task: ClassVar[str] = "preprocess"
    # The version this harness had before the kit existed (tests/unit/evaluators/test_kit_pins.py).
    files: ClassVar[TaskFiles] = TaskFiles(
        HERE,
        baselines=("identity", "standardise", "minmax", "quantile"),
        extra_code={"activation_runner.py": ACTIVATION_RUNNER},
        version="a90a20d6881a",
    )
    # Selection: the raw splits; confirmation: fresh seeds and the held-out datasets; hard:
    # widely scaled columns (``evaluators.preprocess.data``).
    split_sets: ClassVar[SplitSets] = SplitSets(
        selection=lambda secret: data.all_raw_splits(secret=secret),
        confirmation=lambda secret: data.confirmation_splits(secret=secret),
        hard=lambda secret: data.hard_splits(secret=secret),
    )

    validate = staticmethod(check_source)

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split, the training row that stands in for the test set in the training calls."""
        sizes = {s.name: len(s.x_train) for s in self.splits}
        return {split: {"stand_in": int(rng.integers(sizes.get(split, 1)))} for split in splits}
