"""Host side of the grokking task: the template kind's evaluator (``evaluators.template``), with
the watched steps drawn per split.

Everything else is the kind's: the edits are checked and applied on the host, the edited
train.py trains in the sandbox on splits drawn from the secret (``data``), and the predicted
answers at each checkpoint are scored on the host by the area under the held-out accuracy curve
(the metric ``curve_area``) against answers that never enter the container; a model over the
parameter budget (1.10 times the unedited template's count, from the template's baseline run) is
flagged as a bigger-model result, not a discovery.

``GrokkingEvaluator`` is the task's class bound to this folder (``registry.get("grokking")``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluators.grokking import data
from evaluators.kit.budgets import Budget
from evaluators.template.evaluator import WATCHED_STEPS, TemplateEvaluator

CHECKPOINTS = 40  # as in train.py's fixed part
PARAMETER_BUDGET = 1.10  # as in task.toml

__all__ = ["CHECKPOINTS", "PARAMETER_BUDGET", "WATCHED_STEPS", "GrokkingTemplate", "curve"]


class GrokkingTemplate(TemplateEvaluator):
    """The kind's evaluator, but each split's watched steps are drawn over the steps that split
    trains (a test's smaller split trains fewer; ``data``)."""

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split: ``WATCHED_STEPS`` training steps in [0, the steps it trains at this rung)
        where the fixed part's Watch compares everything, drawn from host randomness."""
        by_name = {s.name: s for s in self.splits}
        rung = int(self.spec.rung(spec.name).table()["steps"])
        checks = {}
        for split in splits:
            own = getattr(by_name.get(split), "steps", data.STEPS)
            steps = rung * int(own) // data.STEPS
            drawn = rng.integers(0, max(steps, 1), size=WATCHED_STEPS)
            checks[split] = {"steps": sorted({int(v) for v in drawn})}
        return checks


def curve(guesses: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Held-out accuracy at each checkpoint (the report's figure; its mean is the score)."""
    return (guesses == answers[None, :]).mean(axis=1)


def __getattr__(name: str) -> Any:
    if name == "GrokkingEvaluator":  # bound lazily: the registry imports this module to bind it
        from evaluators.registry import get

        return get("grokking").evaluator_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
