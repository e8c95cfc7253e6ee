"""Host side of the preprocessing task: the shared sandbox machinery with this task's runner,
raw-feature data, baselines and static check. The fixed MLP comes from the activation task's
runner (mounted beside this task's), so both tasks train exactly the same network."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from evaluators.activation import runner as activation_runner
from evaluators.activation.datasets import Split
from evaluators.preprocess import data
from evaluators.preprocess.validator import check_source
from evaluators.sandboxed import SandboxedEvaluator

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
    def default_splits() -> list[Split]:
        return data.all_raw_splits()

    validate = staticmethod(check_source)
