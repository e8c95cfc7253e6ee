"""Static check of an activation hypothesis, before anything runs.

A hypothesis is Python source that defines exactly one top-level function,
``activation(x: torch.Tensor) -> torch.Tensor``, built from an allowlist of elementwise torch and
math operations (``evaluators.allowlists.ACTIVATION``). Nothing may read the batch: no indexing,
no comprehensions, no ``len``/``sum``/``range``, ``min``/``max`` only of two or more values, loops
and unpacking only over literal tuples; so the function cannot recognise a probe by its shape.
The check is a first filter that gives clear reasons; it is not the security boundary (the
sandbox is, with the runner's curated builtins and its checks on real batches), so it errs on the
side of rejecting.
"""

from __future__ import annotations

import ast

from evaluators.allowlists import ACTIVATION
from evaluators.static_check import StaticCheckError, total
from evaluators.static_rules import check, refuse, split

__all__ = ["StaticCheckError", "check_source"]


@total
def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable activation hypothesis."""
    fn = check(source, ACTIVATION)
    for node, line in split(fn)[0]:
        _elementwise(node, line)


def _elementwise(node: ast.AST, line: int) -> None:
    """The forms that would iterate over or reduce the batch, which the allowlist alone lets
    through: min/max of one value, loops and unpacking over anything but a literal tuple."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("min", "max") and (len(node.args) < 2 or node.keywords):
            refuse(
                line,
                f"{node.func.id} of one value is not allowed: it reduces over the batch (use "
                f"{node.func.id} of two or more values, or torch.{node.func.id}imum)",
            )
    elif isinstance(node, ast.For) and not _literal_sequence(node.iter):
        refuse(line, "a for loop may only run over a literal tuple: it would read the batch")
    elif (
        isinstance(node, ast.Assign)
        and any(_unpacks(t) for t in node.targets)
        and not _literal_sequence(node.value)
    ):
        refuse(line, "unpacking is allowed only from a literal tuple: it would read the batch")


def _literal_sequence(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List)


def _unpacks(target: ast.expr) -> bool:
    return isinstance(target, ast.Tuple | ast.List)
