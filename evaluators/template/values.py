"""What values a block of a template script may write: constants at the top of a block and in
defaults (numbers, strings, tuples: nothing exists at import time but those), literals and
strings small enough to carry no answer table, and annotations that only name types."""

from __future__ import annotations

import ast

from evaluators.static_check import StaticCheckError
from evaluators.template.allowlist import (
    ALIASES,
    ANNOTATION_NAMES,
    CONSTANT_CALLS,
    NN_LAYERS,
    canonical,
)

ANNOTATION_NODES = (ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant)
ANNOTATION_PATHS = frozenset(
    {"torch.Tensor", "torch.dtype", "torch.device", "torch.optim.Optimizer", "nn.Module"}
)
# What a constant at the top of a block, a class-level constant or a default argument is made of.
CONSTANT_NODES = (
    *(ast.Constant, ast.Name, ast.Tuple, ast.Attribute, ast.Load, ast.BinOp, ast.UnaryOp),
    *(ast.BoolOp, ast.Compare, ast.IfExp, ast.operator, ast.unaryop, ast.boolop, ast.cmpop),
)
MAX_STRING = 500  # characters: room for a docstring, none for an answer table
MAX_INT = 1_000_000
MAX_ITEMS = 16  # items of one list, tuple, set or dict literal


def fail(node: ast.AST, message: str) -> StaticCheckError:
    """The error for ``node``, with its line in train.py."""
    return StaticCheckError(f"train.py line {getattr(node, 'lineno', '?')}: {message}")


def dotted(node: ast.expr) -> str | None:
    """``torch.optim.SGD`` for a chain of attributes from one of the aliases, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in ALIASES and parts:
        return ".".join([node.id, *reversed(parts)])
    return None


def constant_expression(node: ast.expr, what: str) -> None:
    """``node`` computes a number, string or tuple: no tensors, modules or mutable containers."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func, path = sub.func, dotted(sub.func) or ""
            if path and not path.startswith("math."):
                raise fail(
                    sub,
                    f"{what} may not use {path.split('.')[0]}: build tensors and "
                    "modules in __init__",
                )
            if not (path or (isinstance(func, ast.Name) and func.id in CONSTANT_CALLS)):
                raise fail(
                    sub,
                    f"{what} may compute numbers only (calls of math.* and "
                    f"{', '.join(sorted(CONSTANT_CALLS))})",
                )
        elif isinstance(sub, ast.Name) and sub.id in ALIASES - {"math"}:
            raise fail(sub, f"{what} may not use {sub.id}: build tensors and modules in __init__")
        elif not isinstance(sub, CONSTANT_NODES):
            raise fail(sub, f"{what} may be a number, string or tuple only")


def check_literal(node: ast.List | ast.Tuple | ast.Set | ast.Dict) -> None:
    """No answer tables: a bounded number of items, and of numbers nested anywhere inside."""
    size = len(node.keys if isinstance(node, ast.Dict) else node.elts)
    if size > MAX_ITEMS:
        raise fail(node, f"a literal of {size} items; at most {MAX_ITEMS} (no literal tables)")
    numbers = sum(
        isinstance(n, ast.Constant) and type(n.value) in (int, float, complex)
        for n in ast.walk(node)
    )
    if numbers > MAX_ITEMS:
        raise fail(node, f"a literal holding {numbers} numbers; at most {MAX_ITEMS} (no tables)")


def check_constant(node: ast.Constant) -> None:
    """No bytes, no long strings, no integers that could carry encoded data."""
    value = node.value
    if isinstance(value, bytes):
        raise fail(node, "bytes literals are not allowed")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise fail(
            node, f"a string of {len(value)} characters; at most {MAX_STRING} (no literal tables)"
        )
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise fail(node, f"an integer beyond ±{MAX_INT:,}; no literal tables or encoded data")


def check_annotation(node: ast.expr, classes: frozenset[str]) -> None:
    """Annotations may only name types (builtins, torch.Tensor, nn layers, the blocks' classes):
    Python evaluates them when it defines the function, so nothing else may run there."""
    inner = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    for sub in ast.walk(node):
        if isinstance(sub, ast.expr_context | ast.BitOr | ast.BinOp) or id(sub) in inner:
            continue
        if not isinstance(sub, ANNOTATION_NODES):
            raise fail(node, "an annotation may only name types")
        if isinstance(sub, ast.Name) and sub.id not in ANNOTATION_NAMES | classes:
            raise fail(sub, f"annotation {sub.id} is not a type a block knows")
        if isinstance(sub, ast.Attribute):
            path = canonical(dotted(sub) or "")
            if path not in ANNOTATION_PATHS and not (path[3:] in NN_LAYERS and path[:3] == "nn."):
                raise fail(sub, f"annotation {path or sub.attr} is not a type a block knows")
