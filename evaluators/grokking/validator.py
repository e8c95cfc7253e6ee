"""Static check of a grokking hypothesis: SEARCH/REPLACE edits that apply to ``train.py`` inside
its editable blocks, leaving code that cannot reach the fixed part of the script.

The edited blocks run in the same process as the fixed training loop and evaluation, so they may
not import, rebind the fixed part's names, assign attributes of anything but ``self``, reach
private or dunder attributes, override ``nn.Module``'s own methods (which would hide parameters
from the count) or touch global torch state. Line numbers in the errors are ``train.py``'s.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from evaluators.edits import EditError, apply_edits, blocks, fixed_regions
from evaluators.static_check import FORBIDDEN_NAMES, StaticCheckError

TEMPLATE = Path(__file__).with_name("train.py")
REQUIRED = {"model": "Model", "optimizer": "make_optimizer", "loss": "loss_fn"}
NODES = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Delete, ast.AsyncFunctionDef)
NAMES = FORBIDDEN_NAMES - {"super"}
# Attributes that reach files, global torch or numpy state, or other code.
ATTRIBUTES = frozenset(
    """save load manual_seed seed random set_default_dtype set_num_threads set_grad_enabled
    use_deterministic_algorithms set_printoptions set_flush_denormal hub utils backends ops
    classes jit compile distributed multiprocessing fx library""".split()
)
# nn.Module's own methods, which the fixed part relies on (forward is the one to write).
MODULE_API = frozenset(
    """parameters named_parameters buffers named_buffers children named_children modules
    named_modules state_dict load_state_dict train eval to cpu cuda apply zero_grad
    register_buffer register_parameter register_module add_module get_parameter get_buffer
    get_submodule requires_grad_ type float double half""".split()
)

__all__ = ["StaticCheckError", "check_edits", "edited_script"]


@cache
def template() -> str:
    return TEMPLATE.read_text()


@cache
def fixed_names() -> frozenset[str]:
    """Names the fixed part binds at top level (imports, functions, constants)."""
    names: set[str] = set()
    for region in fixed_regions(template()):
        for node in ast.parse(region).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names - {"torch", "nn", "F", "np"})  # blocks use these, may not rebind them


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
    try:
        ast.parse(script)
    except SyntaxError as exc:
        raise StaticCheckError(f"train.py line {exc.lineno}: syntax error: {exc.msg}") from None
    for block in blocks(script):
        tree = ast.parse(block.body)
        ast.increment_lineno(tree, block.first)
        _check_block(block.name, tree)


def _check_block(name: str, tree: ast.Module) -> None:
    required = REQUIRED.get(name)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    if required and required not in defined:
        raise StaticCheckError(f"block '{name}' must still define {required}")
    protected = fixed_names() | {"torch", "nn", "F", "np"}
    for node in ast.walk(tree):
        line = f"train.py line {getattr(node, 'lineno', '?')}"
        if isinstance(node, NODES):
            raise StaticCheckError(f"{line}: {type(node).__name__} is not allowed in a block")
        if isinstance(node, ast.Name):
            if node.id in NAMES or node.id in fixed_names() or node.id.startswith("__"):
                raise StaticCheckError(f"{line}: {node.id} is not allowed in a block")
            if isinstance(node.ctx, ast.Store) and node.id in protected:
                raise StaticCheckError(f"{line}: {node.id} belongs to the fixed part")
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in protected:
            raise StaticCheckError(f"{line}: {node.name} belongs to the fixed part")
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.decorator_list:
            raise StaticCheckError(f"{line}: decorators are not allowed")
        if isinstance(node, ast.ClassDef):
            _check_class(node, line)
        if isinstance(node, ast.Attribute):
            _check_attribute(node, line)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            target = node.value
            local = isinstance(target, ast.Name) or (
                isinstance(target, ast.Attribute) and _is_self(target.value)
            )
            if not local:
                raise StaticCheckError(f"{line}: only local names and self's items may be set")


def _check_class(node: ast.ClassDef, line: str) -> None:
    if node.keywords:
        raise StaticCheckError(f"{line}: class keywords (metaclasses) are not allowed")
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name in MODULE_API:
            raise StaticCheckError(
                f"{line}: {node.name}.{item.name} overrides nn.Module's own method; "
                "write forward (and helpers with other names)"
            )


def _check_attribute(node: ast.Attribute, line: str) -> None:
    private = node.attr.startswith("_")
    if private and not (node.attr == "__init__" and _is_super_call(node.value)):
        raise StaticCheckError(f"{line}: {node.attr}: private and dunder attributes not allowed")
    if node.attr in ATTRIBUTES:
        raise StaticCheckError(f"{line}: {node.attr} reaches global state; not allowed")
    if isinstance(node.ctx, ast.Store | ast.Del) and not _is_self(node.value):
        raise StaticCheckError(f"{line}: only attributes of self may be assigned")


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_super_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )
