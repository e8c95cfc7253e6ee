"""The lm task's causality check: probes whose prefixes were predicted alike pass; a model that
reads the next character, at every position or at one, is refused; any array is an answer."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evaluators.lm.causality import TOLERANCE, looks_ahead, probe_table

VOCAB, CONTEXT, ROWS, CHECKPOINTS = 5, 8, 4, 2


def rows_with_probes() -> tuple[np.ndarray, np.ndarray]:
    """[CHECKPOINTS, ROWS, CONTEXT + 1] characters: rows 0, 1 originals, rows 2, 3 their probes
    (row 2 copies row 0 up to position 3, row 3 copies row 1 up to position 6)."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, VOCAB, size=(CHECKPOINTS, ROWS, CONTEXT + 1))
    probes = []
    for c in range(CHECKPOINTS):
        for row, original, start in ((2, 0, 3), (3, 1, 6)):
            rows[c, row, :start] = rows[c, original, :start]
            rows[c, row, start] = (rows[c, original, start] + 1) % VOCAB
            probes.append((c, row, original, start))
    return rows, probe_table(probes)


def predicted(rows: np.ndarray, ahead: set[int] | None = None) -> np.ndarray:
    """Log-probabilities [CHECKPOINTS * ROWS * CONTEXT, VOCAB] of a bigram-like model that reads
    position t (and, at the positions in ``ahead``, position t + 1 as well)."""
    ahead = ahead or set()
    out = np.zeros((CHECKPOINTS, ROWS, CONTEXT, VOCAB))
    for t in range(CONTEXT):
        out[:, :, t, :] = np.eye(VOCAB)[rows[:, :, t]]
        if t in ahead:
            out[:, :, t, :] += 2.0 * np.eye(VOCAB)[rows[:, :, t + 1]]
    logits = out.reshape(-1, VOCAB)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def check(logprobs: object, probes: np.ndarray) -> str | None:
    return looks_ahead(logprobs, probes, CHECKPOINTS, ROWS, CONTEXT)


def test_a_causal_model_passes():
    rows, probes = rows_with_probes()
    assert check(predicted(rows).astype(np.float32), probes) is None


def test_noise_below_the_tolerance_passes_and_unnormalised_logits_are_renormalised():
    rows, probes = rows_with_probes()
    lp = predicted(rows) + np.random.default_rng(1).normal(0, TOLERANCE / 100, (64, VOCAB))
    assert check(lp + 7.0, probes) is None


def test_a_model_that_reads_the_next_character_everywhere_is_refused():
    rows, probes = rows_with_probes()
    reason = check(predicted(rows, ahead=set(range(CONTEXT))), probes)
    assert reason is not None
    assert reason.startswith("looks ahead: 4 of 4 causality probes were predicted differently")
    assert reason.endswith("only from the characters up to it, the same way every time")


def test_looking_ahead_at_one_position_is_caught_by_the_probe_that_splits_after_it():
    rows, probes = rows_with_probes()
    # Position 5 reads position 6: only the probes that differ from position 6 on see it.
    reason = check(predicted(rows, ahead={5}), probes)
    assert reason is not None
    assert reason.startswith("looks ahead: 2 of 4 causality probes")
    assert "at position 5, the texts differ from position 6 on" in reason
    # Position 6 reads position 7: no probe shares the text up to 7, so nothing can be seen.
    assert check(predicted(rows, ahead={6}), probes) is None


def test_nan_in_a_compared_prefix_is_refused():
    rows, probes = rows_with_probes()
    lp = predicted(rows)
    lp[(0 * ROWS + 2) * CONTEXT + 1] = np.nan  # checkpoint 0, probe row 2, position 1 < 3
    reason = check(lp, probes)
    assert reason is not None
    assert reason.startswith("looks ahead: 1 of 4 causality probes")


def test_arrays_that_cannot_be_checked_give_a_reason():
    _, probes = rows_with_probes()
    assert check(None, probes) == (
        "looks ahead: no log-probabilities to check the causality probes against"
    )
    assert check(np.zeros((64, VOCAB), dtype=np.int64), probes) == (
        "looks ahead: no log-probabilities to check the causality probes against"
    )
    assert check(np.zeros((63, VOCAB)), probes) == (
        "looks ahead: log-probabilities of shape [63, 5], expected 64 positions: "
        "the causality probes cannot be checked"
    )


@given(
    arrays(
        dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.bool_]),
        shape=st.tuples(st.integers(0, 70), st.integers(0, 6)),
        elements=None,
    )
)
def test_any_array_gives_none_or_a_reason(logprobs: np.ndarray):
    _, probes = rows_with_probes()
    reason = check(logprobs, probes)
    assert reason is None or reason.startswith("looks ahead: ")
