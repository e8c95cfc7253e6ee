"""Static check of a regularizer hypothesis: torch code that defines
``penalty(model, logits, targets)`` returning a scalar tensor, and optionally a numeric module
constant ``DROPOUT`` (0 to 0.9).

An allowlist (``evaluators.allowlists.REGULARIZER``): torch, torch.nn.functional, torch.linalg,
torch.special and math functions by name, read-only tensor methods and the model's
``parameters``/``named_parameters``/``modules``/``children`` by name, the runner's builtins.
Nothing that changes a tensor or the model: no in-place methods, no ``.data``/``.grad``, no
item or attribute assignment, ``out=``/``inplace=`` refused, and ``+=`` only on accumulators
(names only ever set to new values). A first filter with clear reasons; the sandbox and the
runner's own check of the penalty stay behind it.
"""

from __future__ import annotations

import ast

from evaluators.allowlists import REGULARIZER
from evaluators.static_check import StaticCheckError, parse, total
from evaluators.static_rules import check

__all__ = ["StaticCheckError", "check_source"]

MAX_DROPOUT = 0.9


@total
def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable regularizer hypothesis."""
    check(source, REGULARIZER)
    _check_dropout(parse(source))


def _check_dropout(tree: ast.Module) -> None:
    """DROPOUT, where it is a literal, must be a number in [0, MAX_DROPOUT] (the runner checks
    the value it computes too; this gives the reason before a container starts)."""
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if not isinstance(target, ast.Name) or target.id != "DROPOUT":
            continue
        try:
            value = ast.literal_eval(node.value)  # type: ignore[attr-defined]
        except ValueError:
            continue  # computed from constants: the runner checks the value
        if not isinstance(value, int | float) or not 0.0 <= value <= MAX_DROPOUT:
            raise StaticCheckError(
                f"line {node.lineno}: DROPOUT must be a number in [0, {MAX_DROPOUT}], "
                f"got {value!r}"[:200]
            )
