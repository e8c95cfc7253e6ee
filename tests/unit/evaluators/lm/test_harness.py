"""LmEvaluator's extra check on a real split's probes: predictions that read only the text up to
each position pass; predictions that read the next character are refused, with the reason the
run's report gives."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import registry
from evaluators.lm import data

pytestmark = pytest.mark.slow  # draws the corpus (about a second)


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    ev = registry.get("lm").make_evaluator(None, tmp_path_factory.mktemp("home"), None)
    split = ev.splits[0]
    rows = split.inputs["x_eval"].astype(np.int64)  # [checkpoints, rows, CONTEXT]
    vocab = len(data.VOCAB)

    def run(ahead: bool) -> tuple[str | None, tuple[str, ...]]:
        logits = np.eye(vocab)[rows]  # each position from its own character
        if ahead:  # and from the next one, where there is one
            logits[:, :, :-1] += np.eye(vocab)[rows[:, :, 1:]]
        lp = logits.reshape(-1, vocab).astype(np.float32)
        return ev.extra_checks({"logprobs": lp}, split)

    return run


def test_predictions_from_the_text_so_far_pass(checked):
    assert checked(ahead=False) == (None, ())


def test_predictions_that_read_the_next_character_are_refused(checked):
    reason, flags = checked(ahead=True)
    assert flags == ()
    assert reason is not None
    assert reason.startswith("looks ahead: 64 of 64 causality probes were predicted differently")
