"""Host side of the lm task: the template kind's evaluator plus the causality check.

Everything but the check is the kind's (``evaluators.template``): the edits are checked and
applied on the host, the edited script trains in the sandbox, and the per-position
log-probabilities it returns are scored in bits per character against held-out characters that
stay here. ``extra_checks`` compares each causality probe's predictions with its original's
(``evaluators.lm.causality``): a run whose model reads ahead is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluators.lm.causality import looks_ahead
from evaluators.template import TemplateEvaluator
from evaluators.template.data import TemplateSplit


class LmEvaluator(TemplateEvaluator):
    """Scores edits to the lm task's train.py, refusing any that look ahead."""

    def extra_checks(
        self, predictions: dict[str, np.ndarray], split: TemplateSplit
    ) -> tuple[str | None, tuple[str, ...]]:
        """A refusal if a causality probe of ``split`` was predicted unlike its original."""
        meta: dict[str, Any] = split.meta
        reason = looks_ahead(
            predictions.get("logprobs"),
            meta["probes"],
            meta["checkpoints"],
            meta["rows"],
            meta["context"],
        )
        return reason, ()
