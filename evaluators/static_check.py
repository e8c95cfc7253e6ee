"""What the static checks of every task share: the error, the parse under a size limit, the
single top-level function, and the statements and names no hypothesis needs. Each task's
validator adds its own rules; none of them is the security boundary (the sandbox is)."""

from __future__ import annotations

import ast

MAX_SOURCE_BYTES = 10_000
# Statements a hypothesis never needs: classes, coroutines, generators, scope escapes, contexts.
FORBIDDEN_NODES: tuple[type[ast.AST], ...] = (
    ast.ClassDef,
    ast.AsyncFunctionDef,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Global,
    ast.Nonlocal,
    ast.With,
    ast.AsyncWith,
    ast.AsyncFor,
    ast.Try,
)
# Builtins that reach files, code or the interpreter's internals.
FORBIDDEN_NAMES = frozenset(
    """open exec eval compile __import__ getattr setattr delattr globals locals vars input
    breakpoint memoryview object type super""".split()
)


class StaticCheckError(ValueError):
    """Why a hypothesis's source was rejected (one sentence)."""


def parse(source: str) -> ast.Module:
    """The syntax tree of ``source``, or ``StaticCheckError`` for size or syntax."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise StaticCheckError(f"source is longer than {MAX_SOURCE_BYTES} bytes")
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise StaticCheckError(f"syntax error at line {exc.lineno}: {exc.msg}") from None


def only_function(tree: ast.Module, name: str, params: tuple[str, ...]) -> ast.FunctionDef:
    """The one top-level function ``name`` taking exactly ``len(params)`` plain arguments."""
    top = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if [f.name for f in top] != [name]:
        raise StaticCheckError(f"expected exactly one top-level function named '{name}'")
    args = top[0].args
    if len(args.args) != len(params) or args.vararg or args.kwarg or args.kwonlyargs:
        count = {1: "one argument", 2: "two arguments", 3: "three arguments"}[len(params)]
        raise StaticCheckError(f"{name} must take exactly {count}: ({', '.join(params)})")
    return top[0]


def forbidden(node: ast.AST, nodes: tuple[type[ast.AST], ...], names: frozenset[str]) -> None:
    """Reject one node of the tree if it is a forbidden statement or name."""
    line = getattr(node, "lineno", 0)
    if isinstance(node, nodes):
        raise StaticCheckError(f"line {line}: {type(node).__name__} is not allowed")
    if isinstance(node, ast.Name) and node.id in names:
        raise StaticCheckError(f"line {line}: {node.id} is not allowed")
