"""The rules for the code of one editable block of a template script (``check`` runs them).

Everything is an allowlist: the node types in ``NODES``, the names, dotted paths and attributes
in ``allowlist``. The walk is iterative, so no tree is too deep for it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from evaluators import signatures
from evaluators.template.allowlist import (
    ALIASES,
    BUILTINS_USED,
    INIT_METHODS,
    KINDS,
    METHODS,
    NN_LAYERS,
    builtin_names,
    canonical,
    dangerous_attributes,
    module_names,
    paths,
)
from evaluators.template.values import (
    check_annotation,
    check_constant,
    check_literal,
    constant_expression,
    dotted,
    fail,
)

# No imports, scope escapes (global, nonlocal), del, try, with, while, lambdas, walrus, match,
# generators or coroutines: nothing an honest training-script edit needs.
NODES: tuple[type[ast.AST], ...] = (
    *(ast.Module, ast.FunctionDef, ast.ClassDef, ast.Return, ast.Assign, ast.AugAssign),
    *(ast.AnnAssign, ast.For, ast.If, ast.Raise, ast.Assert, ast.Expr, ast.Pass, ast.Break),
    *(ast.Continue, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set),
    *(ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare, ast.Call),
    *(ast.FormattedValue, ast.JoinedStr, ast.Constant, ast.Attribute, ast.Subscript),
    *(ast.Starred, ast.Name, ast.List, ast.Tuple, ast.Slice, ast.Load, ast.Store),
    *(ast.boolop, ast.operator, ast.unaryop, ast.cmpop, ast.comprehension, ast.arguments),
    *(ast.arg, ast.keyword),
)


@dataclass(frozen=True)
class Names:
    """What the blocks and the fixed part bind, gathered before any block is checked."""

    defined: frozenset[str]  # every name a block binds anywhere (top level, locals, arguments)
    classes: frozenset[str]  # the classes the blocks define
    attributes: frozenset[str]  # attributes the blocks define: self.x in __init__, class members
    fixed: frozenset[str]  # the names the fixed part binds at module level
    model_blocks: frozenset[str] = frozenset({"model"})  # may define classes, build nn layers
    optimizer_blocks: frozenset[str] = frozenset({"optimizer"})  # may build torch.optim.*


@dataclass(frozen=True)
class Where:
    block: str
    scope: str  # "module", "class", "init" (a class's __init__) or "function"
    owner: str = ""  # the enclosing class


def gather(
    trees: list[ast.Module],
    fixed: frozenset[str],
    model_blocks: frozenset[str] = frozenset({"model"}),
    optimizer_blocks: frozenset[str] = frozenset({"optimizer"}),
) -> Names:
    """The names the blocks bind, for the checks of names and attributes; which blocks may
    build models (classes, nn layers, initialisation) and which optimizers."""
    defined, classes, attributes = set(), set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
            elif isinstance(node, ast.FunctionDef):
                defined.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                attributes.add(node.attr)
            if isinstance(node, ast.ClassDef):
                classes.add(node.name)
                attributes.update(_members(node))
    return Names(
        frozenset(defined | classes),
        frozenset(classes),
        frozenset(attributes),
        fixed,
        model_blocks,
        optimizer_blocks,
    )


def _members(node: ast.ClassDef) -> set[str]:
    """Methods (but __init__ and forward) and class-level constants: readable as self.x."""
    found = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name not in ("__init__", "forward"):
            found.add(item.name)
        targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", 0)]
        found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


def check_block(block: str, tree: ast.Module, names: Names) -> None:
    """Raise ``StaticCheckError`` (with train.py's line) at the first rule ``tree`` breaks."""
    facts = _Facts(tree)
    # Statements are checked before what they hold, expressions after (so ``np.lib.x`` is
    # refused for its ``np`` and ``t.numpy().ctypes`` for its ``numpy``: the first problem).
    stack: list[tuple[ast.AST, Where, bool]] = [(tree, Where(block, "module"), False)]
    while stack:
        node, where, visited = stack.pop()
        if visited or not isinstance(node, ast.expr):
            _check_node(node, where, names, facts)
        if not visited:
            if isinstance(node, ast.expr):
                stack.append((node, where, True))
            stack.extend((c, w, False) for c, w in reversed(list(_children(node, where))))
    # After the walk, so that a forbidden name or node is named as such first.
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef):
            _check_top(node)


class _Facts:
    """Which nodes are links of a dotted path from torch, nn, F or math, which are called, and
    which ``super`` is the one of ``super().__init__()``."""

    def __init__(self, tree: ast.Module) -> None:
        self.inner: set[int] = set()
        self.roots: set[int] = set()
        self.called: set[int] = set()
        self.passed: set[int] = set()  # isinstance's types: read, never called
        self.supers: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.called.add(id(node.func))
                if _is_isinstance(node):  # its types are read, never called
                    second = node.args[1]
                    items = second.elts if isinstance(second, ast.Tuple) else [second]
                    self.passed.update(id(item) for item in items)

            if isinstance(node, ast.Attribute) and dotted(node) is not None:
                (self.inner if isinstance(node.value, ast.Attribute) else self.roots).add(
                    id(node.value)
                )
            if isinstance(node, ast.Attribute) and node.attr == "__init__" and _is_super(node):
                self.supers.add(id(node.value.func))  # type: ignore[attr-defined]


def _is_isinstance(node: ast.Call) -> bool:
    func = node.func
    return isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2


def _is_super(node: ast.Attribute) -> bool:
    call = node.value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "super"
        and not call.args
        and not call.keywords
    )


def _children(node: ast.AST, where: Where) -> Iterator[tuple[ast.AST, Where]]:
    """The nodes under ``node`` with where they run; annotations are checked apart (as names)."""
    inner = where
    if isinstance(node, ast.ClassDef):
        inner = Where(where.block, "class", node.name)
    elif isinstance(node, ast.FunctionDef):
        init = where.scope == "class" and node.name == "__init__"
        inner = Where(where.block, "init" if init else "function", where.owner)
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns"):
            continue
        scope = inner if field == "body" else where
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield child, scope


def _check_node(node: ast.AST, where: Where, names: Names, facts: _Facts) -> None:
    if not isinstance(node, NODES):
        raise fail(node, f"{type(node).__name__} is not allowed in a block")
    if isinstance(node, ast.Name):
        _check_name(node, names, facts)
    elif isinstance(node, ast.arg):
        binding(node, node.arg, names)
        if node.annotation is not None:
            check_annotation(node.annotation, names.classes)
    elif isinstance(node, ast.FunctionDef):
        _check_function(node, where, names)
    elif isinstance(node, ast.ClassDef):
        _check_class(node, where, names)
    elif isinstance(node, ast.Attribute):
        _check_attribute(node, where, names, facts)
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        _check_item_store(node, where)
    elif isinstance(node, ast.Call):
        _check_call(node, names)
    elif isinstance(node, ast.Constant):
        check_constant(node)
    elif isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
        check_literal(node)
    elif isinstance(node, ast.AnnAssign):
        check_annotation(node.annotation, names.classes)


def _check_call(node: ast.Call, names: Names) -> None:
    """No call writes into an existing tensor, by keyword or by position, or makes an alias of
    one that autograd skips (so that writing a parameter in place fails while training)."""
    for kw in node.keywords:
        if kw.arg in signatures.WRITE_NAMES:
            raise fail(node, f"{kw.arg}= writes into an existing tensor; not allowed")
        if kw.arg == "requires_grad":
            raise fail(node, "requires_grad= is not allowed: every parameter trains")
    if canonical(dotted(node.func) or "") == "nn.Parameter" and len(node.args) > 1:
        raise fail(node, "nn.Parameter takes one argument here: every parameter trains")
    if canonical(dotted(node.func) or "") == "nn.BatchNorm1d" and not _untracked(node):
        raise fail(
            node,
            "nn.BatchNorm1d keeps running statistics, which training may not change (only the "
            "optimizer's step may): pass track_running_stats=False",
        )
    _check_arguments(node, names)


def _untracked(node: ast.Call) -> bool:
    """Whether a BatchNorm call says ``track_running_stats=False`` (as the literal False)."""
    return any(
        k.arg == "track_running_stats"
        and isinstance(k.value, ast.Constant)
        and k.value.value is False
        for k in node.keywords
    )


def _check_arguments(node: ast.Call, names: Names) -> None:
    """The callee takes every argument without writing (``evaluators.signatures``, derived from
    the installed torch): ``F.relu(x, True)`` is refused like ``F.relu(x, inplace=True)``.
    Calls of what the blocks define are their own code, checked as such."""
    func, path = node.func, dotted(node.func)
    if path is not None:
        shown = canonical(path)
        slots = signatures.for_path(shown)
        if slots is None:
            raise fail(node, f"{shown} cannot be called")
    elif isinstance(func, ast.Attribute) and func.attr in METHODS | INIT_METHODS:
        shown = f".{func.attr}"
        slots = signatures.for_method(func.attr, KINDS)
        if slots is None and func.attr in names.attributes:
            return  # an attribute the blocks define, named like one of a layer
    else:
        return
    if slots is None:
        return  # an attribute, not a method (self.attn.out_proj(x) calls a layer)
    starred = any(isinstance(a, ast.Starred) for a in node.args)
    keywords = [k.arg for k in node.keywords if k.arg is not None]
    reason = slots.refusal(len(node.args), starred, keywords)
    if reason is not None:
        raise fail(node, f"{shown}: {reason}")


def _check_top(node: ast.Module | ast.ClassDef) -> None:
    """The top of a block or of a class holds constants, functions and classes only, so nothing
    but numbers, strings and tuples exists before the fixed part calls into the blocks."""
    where = "a block" if isinstance(node, ast.Module) else f"class {node.name}"
    for i, stmt in enumerate(node.body):
        if isinstance(stmt, ast.FunctionDef | ast.ClassDef | ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and i == 0:
            continue  # a docstring
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            constant_expression(stmt.value, f"a value at the top of {where}")
            continue
        raise fail(stmt, f"only constants, functions and classes may sit at the top of {where}")


def binding(node: ast.AST, name: str, names: Names) -> None:
    """A name a block binds: never the fixed part's or a builtin (the fixed part uses them)."""
    if name in names.fixed or name in ALIASES:
        raise fail(node, f"{name} belongs to the fixed part; a block may not rebind it")
    if name in builtin_names():
        raise fail(
            node,
            f"{name} is a Python builtin, which the fixed part relies on; a block may not "
            "rebind it (choose another name)",
        )
    if name.startswith("_") and name != "_":
        raise fail(node, f"{name}: private and dunder names are not allowed")


def _check_name(node: ast.Name, names: Names, facts: _Facts) -> None:
    if isinstance(node.ctx, ast.Store):
        binding(node, node.id, names)
    elif node.id in ALIASES:
        if id(node) not in facts.roots:
            raise fail(node, f"{node.id} is a module; use its allowed functions ({node.id}.x)")
    elif node.id == "super":
        if id(node) not in facts.supers:
            raise fail(node, "super is allowed only as super().__init__()")
    elif node.id.startswith("_") and node.id != "_":
        raise fail(node, f"{node.id}: private and dunder names are not allowed")
    elif node.id not in names.defined and node.id not in BUILTINS_USED:
        raise fail(
            node,
            f"{node.id} is not allowed in a block: a block may use torch, nn, F, math, the "
            f"names the blocks define and the builtins {', '.join(sorted(BUILTINS_USED))}",
        )


def _check_function(node: ast.FunctionDef, where: Where, names: Names) -> None:
    if node.decorator_list:
        raise fail(node, "decorators are not allowed")
    if where.scope in ("init", "function"):
        raise fail(node, "nested functions are not allowed; define helpers at the top of a block")
    if where.scope == "module":
        binding(node, node.name, names)
    elif node.name in ("__init__", "forward"):
        pass  # the two methods a module writes
    elif node.name in module_names():
        raise fail(
            node,
            f"{where.owner}.{node.name} overrides nn.Module's own method; "
            "write forward (and helpers with other names)",
        )
    else:
        member(node, node.name)
    args = node.args
    for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
        constant_expression(default, "a default argument")
    if node.returns is not None:
        check_annotation(node.returns, names.classes)


def member(node: ast.AST, name: str) -> None:
    """An attribute name the hypothesis defines becomes readable on every object, so it may not
    be one that opens something on a tensor, a module or another reachable object."""
    if name.startswith("_"):
        raise fail(node, f"{name}: private and dunder names are not allowed")
    if name in dangerous_attributes():
        raise fail(
            node,
            f"{name} is a name of torch.Tensor, nn.Module, numpy arrays, Python's own objects "
            "or a function an nn layer holds; a block may not define it (choose another name)",
        )


def _check_class(node: ast.ClassDef, where: Where, names: Names) -> None:
    if where.block not in names.model_blocks or where.scope != "module":
        raise fail(node, "classes may be defined only at the top of the model block")
    if node.keywords:
        raise fail(node, "class keywords (metaclasses) are not allowed")
    if node.decorator_list:
        raise fail(node, "decorators are not allowed")
    binding(node, node.name, names)
    for item in node.body:  # class-level constants are readable as self.x, like attributes
        targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", 0)]
        for target in targets:
            if isinstance(target, ast.Name):
                member(target, target.id)
    for base in node.bases:
        path = canonical(dotted(base) or "")
        if path == "nn.Parameter":  # a tensor whose eq or numel the block would write
            raise fail(node, f"{node.name} may not derive from nn.Parameter: use nn.Parameter(...)")
        layer = path.startswith("nn.") and path[3:] in NN_LAYERS
        if not (layer or (isinstance(base, ast.Name) and base.id in names.classes)):
            raise fail(
                node,
                f"{node.name} may derive only from nn.Module, an nn layer or a class of the blocks",
            )


def _check_attribute(node: ast.Attribute, where: Where, names: Names, facts: _Facts) -> None:
    if isinstance(node.ctx, ast.Store):
        target = node.value
        if where.scope != "init" or not isinstance(target, ast.Name) or target.id != "self":
            raise fail(node, "only attributes of self may be set, and only in __init__")
        member(node, node.attr)
        return
    if id(node) in facts.inner:
        return  # a link of a longer dotted path, checked whole at its last link
    path = dotted(node)
    if path is not None:
        _check_path(node, canonical(path), where, names, facts)
    elif node.attr == "__init__" and _is_super(node):
        return
    elif node.attr.startswith("_"):
        raise fail(node, f"{node.attr}: private and dunder attributes are not allowed")
    elif node.attr in INIT_METHODS:
        if where.scope != "init":
            raise fail(node, f".{node.attr} may fill a list only while __init__ builds it")
    elif node.attr not in METHODS and node.attr not in names.attributes:
        raise fail(
            node,
            f".{node.attr} is not an allowed attribute or method in a block (tensor and module "
            "methods such as view, softmax, mean, parameters; and what the blocks define)",
        )


def _check_path(node: ast.Attribute, path: str, where: Where, names: Names, facts: _Facts) -> None:
    kind = paths().get(path)
    if kind is None:
        raise fail(node, f"{path} is not an allowed operation in a block")
    if id(node) not in facts.called and id(node) not in facts.passed:
        slots = signatures.for_path(path)
        if slots is not None and slots.writes:
            raise fail(
                node,
                f"{path} may only be called, not kept or passed: it has a slot that writes "
                "(pass a layer such as nn.GELU() instead)",
            )
    model = where.block in names.model_blocks
    if kind == "model" and id(node) in facts.called and not model:
        raise fail(node, f"{path} may be built only in the model block")
    if kind == "init" and (not model or where.scope != "init"):
        raise fail(node, f"{path} may run only in __init__ of the model block (initialisation)")
    if kind == "optimizer" and where.block not in names.optimizer_blocks:
        raise fail(node, f"{path} may be built only in the optimizer block (make_optimizer)")


def _check_item_store(node: ast.Subscript, where: Where) -> None:
    if where.scope != "init":
        raise fail(node, "item assignment changes a tensor in place; allowed only in __init__")
    target = node.value
    own = isinstance(target, ast.Attribute) and _is_self(target.value)
    if not (isinstance(target, ast.Name) or own):
        raise fail(node, "only local names and self's items may be set")


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"
