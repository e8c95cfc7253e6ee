"""The lm task's causality check, on the host: a model may predict a position only from the
characters up to it.

Each causality probe (``evaluators.lm.data``) is a copy of a held-out row whose text differs
from position ``start`` on. A model that reads nothing after the position it predicts from gives
positions ``0 .. start - 1`` the same distribution in both rows (they saw identical text, one
row per call, in the same state); a model that looks ahead at any of those positions sees the
difference. The check compares the renormalised log-probabilities of every probe's prefix with
its original's and refuses the run if any differs by more than ``TOLERANCE`` nats.

Total: any array that comes back (a wrong shape, a wrong dtype, NaN) gives a reason, never an
exception.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-3  # nats: far above float32 noise, far below what looking ahead changes
PROBE_FIELDS = 4  # a probe row in meta: checkpoint, row, original, start


def probe_table(probes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Probes as the int64 [n, 4] table that ``meta["probes"]`` holds."""
    return np.array(probes, dtype=np.int64).reshape(-1, PROBE_FIELDS)


def renormalised(logprobs: np.ndarray) -> np.ndarray:
    """Log-softmax of each row (float64): what the metric scores, whatever came back."""
    x = logprobs.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.max(x, axis=1, keepdims=True)
        return x - top - np.log(np.sum(np.exp(x - top), axis=1, keepdims=True))


def looks_ahead(
    logprobs: object, probes: np.ndarray, checkpoints: int, rows: int, context: int
) -> str | None:
    """A refusal reason if a probe's prefix positions were predicted differently from its
    original's (or the array cannot be checked), else None. ``logprobs``: what the run returned,
    [checkpoints * rows * context, vocab]; ``probes``: int [n, 4] (checkpoint, row, original,
    start), the host's own."""
    if not isinstance(logprobs, np.ndarray) or logprobs.ndim != 2 or logprobs.dtype.kind != "f":
        return "looks ahead: no log-probabilities to check the causality probes against"
    if logprobs.shape[0] != checkpoints * rows * context or logprobs.shape[1] < 1:
        return (
            f"looks ahead: log-probabilities of shape {list(logprobs.shape)}, expected "
            f"{checkpoints * rows * context} positions: the causality probes cannot be checked"
        )
    lp = renormalised(logprobs)
    failed, worst, where = 0, 0.0, (0, 0)
    for checkpoint, row, original, start in probes.tolist():
        first = (checkpoint * rows + row) * context
        other = (checkpoint * rows + original) * context
        gap = np.abs(lp[first : first + start] - lp[other : other + start])
        gap = np.where(np.isnan(gap), np.inf, gap).max(axis=1)
        if (gap > TOLERANCE).any():
            failed += 1
            at = int(np.argmax(gap))
            if gap[at] > worst or failed == 1:
                worst, where = float(gap[at]), (at, start)
    if not failed:
        return None
    return (
        f"looks ahead: {failed} of {len(probes)} causality probes were predicted differently "
        f"from their originals where both rows hold the same text (largest difference "
        f"{worst:.3g} nats at position {where[0]}, the texts differ from position {where[1]} "
        "on); a position may be predicted only from the characters up to it, the same way "
        "every time"
    )
