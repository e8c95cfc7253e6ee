"""Static check of a preprocessing hypothesis: numpy code that defines
``preprocess(X_train, X_test)`` returning ``(X_train2, X_test2)``.

An allowlist (``evaluators.allowlists.PREPROCESS``): numpy, numpy.linalg and math functions by
name, ndarray methods by name, the runner's builtins; no files, no randomness, no C, no
attribute assignment, no state across calls. Item assignment and ``+=`` are allowed on local
arrays: the runner passes copies, and the harness's one-row-at-a-time test calls make test-set
leakage impossible whatever the code. A first filter with clear reasons; the sandbox and the
runner's curated builtins stay behind it.
"""

from __future__ import annotations

from evaluators.allowlists import PREPROCESS
from evaluators.static_check import StaticCheckError, total
from evaluators.static_rules import check

__all__ = ["StaticCheckError", "check_source"]


@total
def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable preprocessing hypothesis."""
    check(source, PREPROCESS)
