"""What the static checks of every task share: the error, a bounded and total parse, the builtins
a hypothesis may use, and a guard that turns a checker's own failure into a refusal.

Every task's check must raise only ``StaticCheckError`` for any text: the orchestrator records
the reason as an ``invalid`` outcome and goes on, so a hostile text must never crash it. The
allowlists themselves live in ``evaluators.allowlists`` and the rules in
``evaluators.static_rules``. The checks are a first filter with clear reasons; the sandbox and
the runner's curated builtins stay in force behind them.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")

MAX_SOURCE_BYTES = 10_000
# Deeper trees are refused before any checker walks them. 64 levels hold any expression a person
# writes; the bound also keeps every recursive step below (annotation strings, messages) far
# from Python's recursion limit.
MAX_DEPTH = 64

# Exactly the builtins the runner execs hypothesis code with (besides True, False and None);
# no task may allow a builtin outside it. Its lead checks the runner's mapping against this set.
SAFE_BUILTINS = frozenset(
    """abs all any bool dict divmod enumerate float int isinstance len list max min pow range
    reversed round slice sorted sum tuple zip""".split()
)
# Every name Python's builtins module defines: no hypothesis may define one of them, so that no
# definition can change what a builtin means in code that reads it.
BUILTIN_NAMES = frozenset(dir(builtins))


class StaticCheckError(ValueError):
    """Why a hypothesis's source was rejected (one sentence)."""


def parse(source: str, max_bytes: int = MAX_SOURCE_BYTES) -> ast.Module:
    """The syntax tree of ``source``, or ``StaticCheckError`` for anything unreadable.

    Total: text too long, invalid, with null bytes or lone surrogates, nested too deeply for the
    parser (which raises ``RecursionError`` or ``MemoryError``) or deeper than ``MAX_DEPTH``
    becomes a ``StaticCheckError`` with the reason; nothing else escapes.
    """
    tree = _parse(source, "exec", max_bytes)
    assert isinstance(tree, ast.Module)
    return tree


def parse_expression(source: str, max_bytes: int) -> ast.expr:
    """The expression ``source`` (e.g. a string annotation), bounded and total like ``parse``."""
    tree = _parse(source, "eval", max_bytes)
    assert isinstance(tree, ast.Expression)
    return tree.body


def _parse(source: str, mode: str, max_bytes: int) -> ast.AST:
    if not isinstance(source, str):
        raise StaticCheckError(f"source must be text, not {type(source).__name__}")
    if len(source) > max_bytes or len(source.encode("utf-8", "surrogatepass")) > max_bytes:
        raise StaticCheckError(f"source is longer than {max_bytes} bytes")
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:  # includes IndentationError and "too many nested parentheses"
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise StaticCheckError(f"syntax error{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise StaticCheckError("source is nested too deeply to read") from None
    except (ValueError, OverflowError) as exc:  # null bytes, surrogates, huge literals
        raise StaticCheckError(f"unreadable source: {type(exc).__name__}") from None
    check_depth(tree)
    return tree


def check_depth(tree: ast.AST, limit: int = MAX_DEPTH) -> None:
    """Refuse a tree nested deeper than ``limit`` levels (measured without recursion)."""
    stack = [(tree, 1, 0)]
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > limit:
            raise StaticCheckError(f"line {line}: code is nested deeper than {limit} levels")
        stack.extend((child, depth + 1, line) for child in ast.iter_child_nodes(node))


def total(check: Callable[P, None]) -> Callable[P, None]:
    """``check`` made total: an unexpected exception inside it becomes a ``StaticCheckError``.

    A checker's bug must not stop a campaign at the same hypothesis on every resume; the reason
    names the exception so that the bug is seen and fixed, not hidden.
    """

    @functools.wraps(check)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            check(*args, **kwargs)
        except StaticCheckError:
            raise
        except Exception as exc:  # recorded as the refusal's reason, never swallowed
            reason = f"internal check failed: {type(exc).__name__}: {exc}"
            raise StaticCheckError(reason[:300]) from exc

    return guarded


def count(params: tuple[str, ...]) -> str:
    """'one argument', 'two arguments', ... for a signature's message."""
    words = {1: "one argument", 2: "two arguments", 3: "three arguments"}
    return words.get(len(params), f"{len(params)} arguments")
