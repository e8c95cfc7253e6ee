"""Host side of the regularizer task: the kit's sandboxed evaluator with this task's runner,
small-training-set data, baselines and static check."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from evaluators.kit.budgets import Budget
from evaluators.kit.files import TaskFiles
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.splits import SplitSets
from evaluators.regularizer import data, runner
from evaluators.regularizer.validator import check_source

HERE = Path(__file__).parent
WATCHED_STEPS = 3  # training steps per split where the property check runs again


class RegularizerEvaluator(SandboxedEvaluator):
    """Scores ``penalty(model, logits, targets)`` hypotheses by win rate against the baselines."""

    task: ClassVar[str] = "regularizer"
    # The version this harness had before the kit existed (tests/unit/evaluators/test_kit_pins.py).
    files: ClassVar[TaskFiles] = TaskFiles(
        HERE,
        baselines=("none", "l2", "l1", "dropout", "label_smoothing"),
        version="d0703112d953",
    )
    # Selection: the small splits; confirmation: fresh seeds and the held-out datasets; hard:
    # small training sets of harder data (``evaluators.regularizer.data``).
    split_sets: ClassVar[SplitSets] = SplitSets(
        selection=lambda secret: data.all_small_splits(secret=secret),
        confirmation=lambda secret: data.confirmation_splits(secret=secret),
        hard=lambda secret: data.hard_splits(secret=secret),
    )

    validate = staticmethod(check_source)

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split: the batch of the first property check and the training steps where it
        runs again, drawn from host randomness for this job."""
        by_name = {s.name: s for s in self.splits}
        checks = {}
        for split in splits:
            n = len(by_name[split].x_train) if split in by_name else 16
            steps = spec.epochs * runner.EPOCHS_PER_BUDGET_EPOCH * -(-n // spec.batch_size)
            checks[split] = {
                "rows": rng.permutation(n)[: min(16, n)].tolist(),
                "steps": sorted(int(v) for v in rng.integers(1, steps + 1, size=WATCHED_STEPS)),
            }
        return checks
