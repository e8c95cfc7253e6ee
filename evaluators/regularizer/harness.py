"""Host side of the regularizer task: the shared sandbox machinery with this task's runner,
small-training-set data, baselines and static check."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from evaluators.activation.datasets import Split
from evaluators.regularizer import data
from evaluators.regularizer.validator import check_source
from evaluators.sandboxed import SandboxedEvaluator

HERE = Path(__file__).parent


class RegularizerEvaluator(SandboxedEvaluator):
    """Scores ``penalty(model, logits, targets)`` hypotheses by win rate against the baselines."""

    task: ClassVar[str] = "regularizer"
    folder: ClassVar[Path] = HERE
    baseline_names: ClassVar[tuple[str, ...]] = ("none", "l2", "l1", "dropout", "label_smoothing")
    version_files: ClassVar[tuple[str, ...]] = ("runner.py", "harness.py", "data.py")

    @staticmethod
    def default_splits() -> list[Split]:
        return data.all_small_splits()

    validate = staticmethod(check_source)
