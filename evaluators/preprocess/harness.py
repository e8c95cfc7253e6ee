"""Host side of the preprocessing task: the shared sandbox machinery with this task's runner,
raw-feature data, baselines and static check. The fixed MLP comes from the activation task's
runner (mounted beside this task's), so both tasks train exactly the same network."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from evaluators.activation import runner as activation_runner
from evaluators.activation.budgets import Budget
from evaluators.activation.datasets import Split
from evaluators.preprocess import data
from evaluators.preprocess.validator import check_source
from evaluators.sandboxed import SandboxedEvaluator
from evaluators.secrets import DataSecret

HERE = Path(__file__).parent


class PreprocessEvaluator(SandboxedEvaluator):
    """Scores ``preprocess(X_train, X_test)`` hypotheses by win rate against the baselines."""

    task: ClassVar[str] = "preprocess"
    folder: ClassVar[Path] = HERE
    baseline_names: ClassVar[tuple[str, ...]] = ("identity", "standardise", "minmax", "quantile")
    version_files: ClassVar[tuple[str, ...]] = ("runner.py", "harness.py", "data.py")
    extra_code: ClassVar[dict[str, Path]] = {
        "activation_runner.py": Path(activation_runner.__file__)
    }

    @staticmethod
    def default_splits(secret: DataSecret) -> list[Split]:
        """The task's splits, drawn from the installation's ``secret``."""
        return data.all_raw_splits(secret=secret)

    @classmethod
    def splits_for(cls, split_set: str, secret: DataSecret) -> list[Split]:
        """Selection: the raw splits; confirmation: fresh seeds and the held-out datasets; hard:
        widely scaled columns (``evaluators.preprocess.data``)."""
        if split_set == "confirmation":
            return data.confirmation_splits(secret=secret)
        if split_set == "hard":
            return data.hard_splits(secret=secret)
        return cls.default_splits(secret)

    validate = staticmethod(check_source)

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split, the training row that stands in for the test set in the training calls."""
        sizes = {s.name: len(s.x_train) for s in self.splits}
        return {split: {"stand_in": int(rng.integers(sizes.get(split, 1)))} for split in splits}
