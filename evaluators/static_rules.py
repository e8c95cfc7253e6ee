"""The allowlist check every function-shaped task applies (activation, preprocess, regularizer),
driven by the task's ``Policy`` (``evaluators.allowlists``).

In the function, every name must be a local, a constant, an allowed builtin, or a name imported
from an allowed module (``evaluators.static_scope`` reads the top level); every ``module.name``
must be on the module's list; every other attribute or method must be on the policy's method
list; only listed statement and expression kinds may appear. Nothing may be assigned to an
attribute, item assignment and in-place updates only where the policy says, and only named
functions may be called. Every refusal is one line: ``line N: <what> ...``.
"""

from __future__ import annotations

import ast

from evaluators import signatures
from evaluators.allowlists import Policy
from evaluators.static_check import BUILTIN_NAMES, parse
from evaluators.static_scope import (
    MAX_INT,
    Scope,
    annotation,
    is_number,
    kind,
    new_name,
    path_of,
    refuse,
    show,
    signature,
    spell,
    top_level,
)

__all__ = ["check", "refuse", "split"]

# Calls that always make a new tensor: an accumulator may start from one of them.
FRESH = frozenset(f"torch.{n}" for n in "zeros ones full tensor scalar_tensor".split())
LABELS = {
    "While": "while loops are not allowed: a loop must be a bounded for loop",
    "Lambda": "lambda is not allowed: define a helper with def or write the expression inline",
    "ClassDef": "class definitions are not allowed",
    "Try": "try/except is not allowed",
    "With": "with blocks are not allowed",
    "Global": "global is not allowed",
    "Nonlocal": "nonlocal is not allowed",
    "Import": "imports inside the function are not allowed: import at the top level",
    "ImportFrom": "imports inside the function are not allowed: import at the top level",
    "JoinedStr": "f-strings are not allowed",
    "NamedExpr": "the walrus operator := is not allowed",
    "Delete": "del is not allowed",
    "Raise": "raise is not allowed",
    "Subscript": "indexing is not allowed",
    "Starred": "* unpacking is not allowed",
    "For": "for loops are not allowed",
    **{k: "comprehensions are not allowed" for k in ("ListComp", "SetComp", "DictComp")},
    "GeneratorExp": "generator expressions are not allowed",
}


def check(source: str, policy: Policy) -> ast.FunctionDef:
    """Raise ``StaticCheckError`` unless ``source`` follows ``policy``; the task's function."""
    tree = parse(source)
    scope = Scope(policy)
    fn = top_level(tree, scope)
    signature(fn, policy)
    code, annotations = split(fn)
    # Forbidden kinds of code first, then the names the function binds, then what it reads:
    # a refusal names the construct or the name at fault.
    for node, line in code:
        if not isinstance(node, policy.nodes):
            kind_name = type(node).__name__
            text = LABELS.get(kind_name, f"{kind_name} is not allowed")
            refuse(line, _noted(text, kind_name, policy))
    _bindings(fn, code, scope)
    scope.roots = {id(n.value) for n, _ in code if isinstance(n, ast.Attribute)}
    scope.type_context = _type_context(code, scope)
    scope.called = _called(code)
    for node, line in sorted(code, key=lambda item: _order(item[0])):
        _node(node, line, fn, scope)
    for note, line in annotations:
        annotation(note, line, scope)
    return fn


def _order(node: ast.AST) -> tuple[int, int, int, int]:
    """Assignments to attributes and dunder attributes first, then names and attributes read,
    then the rest (``getattr(x, "relu")()`` is refused for getattr, not for the call); in a
    dotted name the innermost link first (``np.lib`` in ``np.lib.format.open_memmap``);
    otherwise source order (the sort is stable)."""
    if isinstance(node, ast.Attribute) and (
        not isinstance(node.ctx, ast.Load) or node.attr.startswith("_")
    ):
        return (0, node.lineno, node.col_offset, node.end_col_offset or 0)
    if not isinstance(node, ast.Name | ast.Attribute):
        return (2, 0, 0, 0)
    return (1, node.lineno, node.col_offset, node.end_col_offset or 0)


def split(root: ast.AST) -> tuple[list[tuple[ast.AST, int]], list[tuple[ast.expr, int]]]:
    """Every node under ``root`` with its line, in source order, annotations set apart.

    Iterative (the tree's depth is bounded, but a walk must not depend on that), and it never
    enters an annotation: annotations are names of types, checked by ``annotation``.
    """
    code: list[tuple[ast.AST, int]] = []
    notes: list[tuple[ast.expr, int]] = []
    stack: list[tuple[ast.AST, int]] = [(root, getattr(root, "lineno", 0))]
    while stack:
        node, line = stack.pop()
        line = getattr(node, "lineno", line)
        code.append((node, line))
        children: list[ast.AST] = []
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns") and isinstance(value, ast.expr):
                notes.append((value, line))
            elif isinstance(value, ast.AST):
                children.append(value)
            elif isinstance(value, list):
                children.extend(v for v in value if isinstance(v, ast.AST))
        stack.extend((child, line) for child in reversed(children))
    return code, notes


def _bindings(fn: ast.FunctionDef, code: list[tuple[ast.AST, int]], scope: Scope) -> None:
    """Collect the function's locals and helpers, refusing names they may not take, and find
    its accumulators: names bound only by ``name = <new value>`` and ``name op= ...``. Such a
    name never aliases an argument, a parameter or another tensor, so an in-place ``total += x``
    on it cannot change one of those."""
    top = set(scope.aliases) | scope.constants | {fn.name}
    stores: dict[str, int] = {}
    fresh: dict[str, int] = {}
    for node, line in code:
        name = _bound(node) if node is not fn else None
        if name is not None:
            if name in top:
                refuse(line, f"the name {show(name)} shadows a module-level name")
            new_name(name, line, scope)
            (scope.helpers if isinstance(node, ast.FunctionDef) else scope.local).add(name)
            stores[name] = stores.get(name, 0) + 1
        target = _accumulated(node, scope)
        if target is not None:
            fresh[target] = fresh.get(target, 0) + 1
    both = scope.helpers & scope.local
    if both:
        refuse(fn.lineno, f"{show(min(both))} is both a helper function and a variable")
    scope.accumulators = {n for n, k in fresh.items() if stores.get(n) == k}


def _bound(node: ast.AST) -> str | None:
    """The name a node binds (an argument, a stored name or a helper), or None."""
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.Name):
        return node.id if isinstance(node.ctx, ast.Store) else None
    return node.name if isinstance(node, ast.FunctionDef) else None


def _accumulated(node: ast.AST, scope: Scope) -> str | None:
    """The name an accumulator's binding sets (``t = 0.0``, ``t += x``), or None."""
    if isinstance(node, ast.AugAssign):
        return node.target.id if isinstance(node.target, ast.Name) else None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None
    return target.id if isinstance(target, ast.Name) and _fresh(value, scope) else None


def _fresh(value: ast.expr, scope: Scope) -> bool:
    """Whether ``value`` is always a new object: a number, arithmetic, or a torch factory."""
    if isinstance(value, ast.Constant):
        return is_number(value.value)
    if isinstance(value, ast.UnaryOp):
        return not isinstance(value.op, ast.UAdd)  # +t is t itself for a tensor
    if isinstance(value, ast.Call):
        return path_of(value.func, scope) in FRESH
    return isinstance(value, ast.BinOp)


def _called(code: list[tuple[ast.AST, int]]) -> set[int]:
    """Ids of what calls call, and of the arguments of every call (a function handed to another
    is called by it, with the arguments it chooses; a name bound to one is refused)."""
    ids: set[int] = set()
    for node, _ in code:
        if isinstance(node, ast.Call):
            ids.add(id(node.func))
            ids.update(id(a) for a in node.args)
            ids.update(id(k.value) for k in node.keywords)
    return ids


def _type_context(code: list[tuple[ast.AST, int]], scope: Scope) -> set[int]:
    """Ids of the names and dotted names that form isinstance's second argument (alone or in a
    tuple): the one place outside annotations where a type may appear, never called."""
    ids: set[int] = set()
    for node, _ in code:
        if not isinstance(node, ast.Call) or len(node.args) != 2:
            continue
        if not (isinstance(node.func, ast.Name) and node.func.id == "isinstance"):
            continue
        second = node.args[1]
        for item in second.elts if isinstance(second, ast.Tuple) else [second]:
            while isinstance(item, ast.Attribute):
                ids.add(id(item))
                item = item.value
            ids.add(id(item))
    return ids


def _node(node: ast.AST, line: int, fn: ast.FunctionDef, scope: Scope) -> None:
    """Check one node of the function against the policy."""
    policy = scope.policy
    if isinstance(node, ast.Name):
        _name(node, line, scope)
    elif isinstance(node, ast.Attribute):
        _attribute(node, line, scope)
    elif isinstance(node, ast.Call):
        _call(node, line, scope)
    elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
        if not (policy.item_assignment and _is_local(node.value, scope)):
            text = "item assignment (x[...] = ...) is not allowed"
            refuse(line, _noted(text, "item_assignment", policy))
    elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        if not policy.free_augassign and node.target.id not in scope.accumulators:
            refuse(
                line,
                f"in-place update of {show(node.target.id)} is not allowed: only a name only "
                "ever set to new values (total = 0.0, then total += ...) may be updated in place",
            )
    elif isinstance(node, ast.Constant) and isinstance(node.value, bytes | complex):
        refuse(line, f"{type(node.value).__name__} literals are not allowed")
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        if abs(node.value) >= MAX_INT:
            refuse(line, "integer literal too large")
    elif isinstance(node, ast.FunctionDef) and node is not fn:
        _helper(node, line, policy)
    elif isinstance(node, ast.comprehension) and node.is_async:
        refuse(line, "async comprehensions are not allowed")


def _noted(text: str, key: str, policy: Policy) -> str:
    note = policy.notes.get(key)
    return f"{text}: {note}" if note else text


def _is_local(node: ast.expr, scope: Scope) -> bool:
    return isinstance(node, ast.Name) and node.id in scope.local


def _name(node: ast.Name, line: int, scope: Scope) -> None:
    name, policy = node.id, scope.policy
    if not isinstance(node.ctx, ast.Load) or name in scope.local | scope.helpers:
        return  # bindings were checked by _bindings
    if name in scope.constants:
        return
    if name in scope.aliases:
        _resolved(name, scope.aliases[name], node, line, scope)
    elif name in policy.builtins:
        return
    elif name.startswith("_"):
        refuse(line, f"{show(name)}: dunder and private names are not allowed")
    elif name in BUILTIN_NAMES:
        refuse(line, _noted(f"{name} is not an allowed builtin", name, policy))
    else:
        refuse(line, f"unknown name {show(name)!r}")


def _resolved(spelled: str, path: str, node: ast.expr, line: int, scope: Scope) -> None:
    """A name or dotted name that an import made: modules only as the root of an allowed
    name, types only in annotations and isinstance."""
    found = kind(path, scope.policy)
    if found == "module" and id(node) not in scope.roots:
        refuse(line, f"{spelled} is a module: use one of its allowed functions")
    if found == "type" and id(node) not in scope.type_context:
        refuse(line, f"{spelled} is a type: only annotations and isinstance may use it")
    if found == "member" and id(node) not in scope.called:
        slots = signatures.for_path(path)
        if slots is not None and slots.writes:
            refuse(line, f"{spelled} may only be called, not kept: it has a slot that writes")


def _attribute(node: ast.Attribute, line: int, scope: Scope) -> None:
    attr, spelled, policy = node.attr, spell(node), scope.policy
    if attr.startswith("_"):
        refuse(line, f"{spelled}: dunder and private attributes are not allowed")
    if not isinstance(node.ctx, ast.Load):
        refuse(line, f"assignment to the attribute {spelled} is not allowed")
    base = path_of(node.value, scope)
    if base is not None and kind(base, policy) == "module":
        if kind(f"{base}.{attr}", policy) is None:
            refuse(line, _noted(f"{spelled} is not an allowed {base} function", f".{attr}", policy))
        _resolved(spelled, f"{base}.{attr}", node, line, scope)
    elif attr not in policy.methods:
        text = f"{spelled} is not an allowed method or attribute"
        if attr.endswith("_"):
            text += ": in-place operations are not allowed"
        refuse(line, _noted(text, f".{attr}", policy))


def _call(node: ast.Call, line: int, scope: Scope) -> None:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id in scope.local or func.id in scope.constants:
            refuse(
                line,
                f"calling {show(func.id)} is not allowed: only allowed functions, methods "
                "and helpers defined with def may be called",
            )
    elif not isinstance(func, ast.Attribute):
        refuse(line, "only named functions and methods may be called")
    for kw in node.keywords:
        if kw.arg is None:
            refuse(line, "** unpacking of keyword arguments is not allowed")
        if kw.arg in signatures.WRITE_NAMES:
            refuse(line, f"{kw.arg}= is not allowed: return a new value instead of writing one")
    _arguments(node, line, scope)


def _arguments(node: ast.Call, line: int, scope: Scope) -> None:
    """The call passes only arguments its callee takes without writing (by position too:
    ``F.relu(x, True)``), as ``evaluators.signatures`` derives them from the installed
    libraries. Builtins and the function's own helpers write no tensor and are not listed."""
    func, slots = node.func, None
    path = path_of(func, scope) if isinstance(func, ast.Name | ast.Attribute) else None
    if path is not None and kind(path, scope.policy) == "member":
        slots = signatures.for_path(path)
        if slots is None:
            refuse(line, f"{spell(func)} cannot be called here")
    elif isinstance(func, ast.Attribute) and path is None:
        slots = signatures.for_method(func.attr, scope.policy.kinds)
    if slots is None:
        return
    starred = any(isinstance(a, ast.Starred) for a in node.args)
    names = [k.arg for k in node.keywords if k.arg is not None]
    reason = slots.refusal(len(node.args), starred, names)
    if reason is not None:
        refuse(line, f"{spell(func)}: {reason}")


def _helper(node: ast.FunctionDef, line: int, policy: Policy) -> None:
    """A function defined inside the task's function (made afresh on every call, so it keeps
    no state across calls): plain arguments, numeric defaults, no decorators."""
    if not policy.nested_functions:
        refuse(line, "nested functions are not allowed")
    a = node.args
    if node.decorator_list:
        refuse(line, "decorators are not allowed")
    if a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg or getattr(node, "type_params", None):
        refuse(line, f"the helper {show(node.name)} must take plain arguments only")
    for default in a.defaults:
        if not (isinstance(default, ast.Constant) and is_number(default.value)):
            refuse(line, "a helper's default argument values must be numbers")
