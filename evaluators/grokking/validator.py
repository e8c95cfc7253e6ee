"""Static check of a grokking hypothesis: SEARCH/REPLACE edits that apply to ``train.py`` inside
its editable blocks, leaving code that cannot reach the fixed part of the script.

The edited blocks run in the same process as the fixed training loop and evaluation, so the check
is an allowlist (``allowlist``, ``block_check``): each block is complete Python on its own; it
binds no builtin's and no fixed name (so the fixed part's ``range``, ``round``, ``torch``, ...
mean what they say); it uses only listed torch, nn, F and math operations, listed attributes and
the names the blocks define; it sets attributes only on ``self`` in ``__init__`` and builds
optimizers only in ``make_optimizer`` and has no way to step, zero, read or write gradients or
parameters in place, so the one optimizer the fixed loop steps is the only one; and it carries no
literal tables. The fixed part counts every tensor reachable from the model and the optimizer.

Every input gives ``None`` or ``StaticCheckError`` (``EditError`` is one) with a reason a coder can
act on; line numbers are ``train.py``'s.
"""

from __future__ import annotations

import ast
import re
import warnings
from functools import cache
from pathlib import Path

from evaluators.edits import Block, EditError, apply_edits, blocks, fixed_regions
from evaluators.grokking.block_check import check_block, gather
from evaluators.grokking.values import fail
from evaluators.static_check import StaticCheckError

TEMPLATE = Path(__file__).with_name("train.py")
REQUIRED = {"model": "Model", "optimizer": "make_optimizer", "loss": "loss_fn"}

__all__ = ["StaticCheckError", "check_edits", "check_script", "edited_script"]


@cache
def template() -> str:
    return TEMPLATE.read_text()


@cache
def fixed_names() -> frozenset[str]:
    """Names the fixed part binds at module level (imports, functions, constants)."""
    names: set[str] = set()
    for region in fixed_regions(template()):
        stack: list[ast.AST] = list(ast.parse(region).body)
        while stack:  # module scope only: the fixed functions' locals are theirs
            node = stack.pop()
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            else:
                stack.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def edited_script(source: str) -> str:
    """``train.py`` with the hypothesis's edits applied (``EditError`` if they do not apply)."""
    return apply_edits(template(), source)


def check_edits(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable set of edits."""
    if not source.strip():
        raise EditError("no edits: a hypothesis changes at least one editable block")
    script = edited_script(source)
    if script == template():
        raise EditError("the edits change nothing")
    check_script(script)


def check_script(script: str) -> None:
    """Raise ``StaticCheckError`` unless the blocks of ``script`` (train.py, edited) keep the
    rules; the unedited template keeps them too."""
    spans = blocks(script)
    trees = [_parse_block(b) for b in spans]
    _check_spans(_parse(script, 0, "train.py"), spans)
    for block, tree in zip(spans, trees, strict=True):
        required = REQUIRED.get(block.name)
        top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        if required and required not in top:
            raise StaticCheckError(f"block '{block.name}' must still define {required}")
    names = gather(trees, fixed_names())
    for block, tree in zip(spans, trees, strict=True):
        check_block(block.name, tree, names)


def _parse(text: str, first: int, what: str) -> ast.Module:
    """The tree of ``text`` (lines numbered from ``first`` + 1), or ``StaticCheckError``: never
    another exception, whatever the text (deep nesting, null bytes, huge literals)."""
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" and the like: not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError as exc:
        line = (exc.lineno or 0) + first
        msg = re.sub(r" \(detected at line \d+\)", "", str(exc.msg))  # the block's numbering
        raise StaticCheckError(f"train.py line {line}: {what}: syntax error: {msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; nesting too deep
        why = "nested too deeply" if not isinstance(exc, ValueError) else str(exc)[:120]
        raise StaticCheckError(f"{what} cannot be parsed ({why}); write simpler code") from None
    ast.increment_lineno(tree, first)
    return tree


def _parse_block(block: Block) -> ast.Module:
    """One block alone: it must be complete Python by itself, so that nothing in it (an open
    bracket, a string, a statement) runs on into the fixed part or another block."""
    return _parse(block.body, block.first, f"block '{block.name}' on its own")


def _check_spans(tree: ast.Module, spans: list[Block]) -> None:
    """Each top-level statement of the script lies wholly inside one block or wholly outside."""
    for stmt in tree.body:
        first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
        holders = [b for b in spans if b.first <= last and first < b.end]  # overlapping
        if holders and not all(b.first <= first and last < b.end for b in holders):
            raise fail(stmt, f"a statement runs out of block '{holders[0].name}'")
