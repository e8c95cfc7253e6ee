"""The static check of a template task's hypotheses: SEARCH/REPLACE edits that apply to the
script inside its editable blocks, leaving code that cannot reach the script's fixed part.

The edited blocks run in the same process as the fixed training loop, so the check is an
allowlist (``allowlist``, ``rules``, ``values``; grokking's, generalised): each block is complete
Python on its own; it binds no builtin's and no fixed name (the fixed names are computed from the
template: its imports, functions, classes and constants outside the blocks), so the fixed part's
``range``, ``torch``, ``train_and_predict``, ... mean what they say; it never names
``template_fixed``; it uses only listed torch, nn, F and math operations, listed attributes and
the names the blocks define; it sets attributes only on ``self`` in ``__init__``, defines classes
and builds layers only in the model blocks and optimizers only in the optimizer blocks, and has
no way to step, zero, read or write gradients or parameters in place; and it carries no literal
tables. A block may define modules, losses and optimizers; it may not rebind what the fixed part
uses.

Every input gives ``None`` or ``StaticCheckError`` (``EditError`` is one) with a reason a coder
can act on; line numbers are the script's.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from evaluators.edits import Block, EditError, apply_edits, blocks, fixed_regions
from evaluators.static_check import StaticCheckError
from evaluators.template.rules import check_block, gather
from evaluators.template.values import fail

FIXED_MODULE = "template_fixed"  # the fixed machinery (fixed.py), mounted beside the runner

__all__ = ["FIXED_MODULE", "StaticCheckError", "Template"]


@dataclass(frozen=True)
class Template:
    """A template script and what its blocks must keep: ``required`` (block -> the name it
    must define at its top), the blocks that may build models and those that may build
    optimizers, and the names no block may name (``forbidden``, beside the fixed ones)."""

    text: str
    filename: str = "train.py"
    required: Mapping[str, str] = field(default_factory=dict)
    model_blocks: frozenset[str] = frozenset({"model"})
    optimizer_blocks: frozenset[str] = frozenset({"optimizer"})
    forbidden: frozenset[str] = frozenset({FIXED_MODULE})

    @cached_property
    def fixed_names(self) -> frozenset[str]:
        """Names the fixed part binds at module level (imports, functions, classes,
        constants), and the forbidden ones."""
        names: set[str] = set(self.forbidden)
        for region in fixed_regions(self.text):
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

    def edited(self, source: str) -> str:
        """The script with the edits in ``source`` applied (``EditError`` if they do not)."""
        return apply_edits(self.text, source, filename=self.filename)

    def check_edits(self, source: str) -> None:
        """Raise ``StaticCheckError`` unless ``source`` is an acceptable set of edits."""
        if not source.strip():
            raise EditError("no edits: a hypothesis changes at least one editable block")
        script = self.edited(source)
        if script == self.text:
            raise EditError("the edits change nothing")
        self.check_script(script)

    def check_script(self, script: str) -> None:
        """Raise ``StaticCheckError`` unless the blocks of ``script`` (the template, edited)
        keep the rules."""
        try:
            self._check_script(script)
        except StaticCheckError as exc:
            text = str(exc)
            if self.filename != "train.py" and text.startswith("train.py"):
                raise type(exc)(self.filename + text[len("train.py") :]) from None
            raise

    def _check_script(self, script: str) -> None:
        spans = blocks(script)
        trees = [_parse_block(b) for b in spans]
        _check_spans(_parse(script, 0, "train.py"), spans)
        for block, tree in zip(spans, trees, strict=True):
            required = self.required.get(block.name)
            top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
            if required and required not in top:
                raise StaticCheckError(f"block '{block.name}' must still define {required}")
            _check_forbidden(tree, self.forbidden)
        names = gather(trees, self.fixed_names, self.model_blocks, self.optimizer_blocks)
        for block, tree in zip(spans, trees, strict=True):
            check_block(block.name, tree, names)


def _check_forbidden(tree: ast.Module, forbidden: frozenset[str]) -> None:
    """No block names a forbidden name: not as a name, an attribute or a keyword."""
    for node in ast.walk(tree):
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else node.arg
            if isinstance(node, ast.arg | ast.keyword)
            else None
        )
        if name in forbidden:
            raise fail(node, f"{name} is the fixed part's; a block may not name it")


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
