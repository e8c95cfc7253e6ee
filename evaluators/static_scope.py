"""The top level of a hypothesis and the meaning of its names, for the allowlist checks
(``evaluators.static_rules`` checks the function's body).

The top level may hold only imports of allowed modules and names, a docstring, numeric
constants and the task's one function; no definition may take the name of a builtin, a name the
runner uses, or a dunder or private name. Annotations are checked here as names of types, never
executed or treated as calls.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from evaluators.allowlists import Policy
from evaluators.static_check import BUILTIN_NAMES, StaticCheckError, count, parse_expression

# Builtins that name types, accepted in annotations.
BUILTIN_TYPES = frozenset({"bool", "dict", "float", "int", "list", "slice", "tuple"})
# Constants a module-level constant may be computed from.
MATH_CONSTANTS = frozenset(
    f"{m}.{c}" for m in ("math", "numpy", "torch") for c in ("pi", "e", "tau", "inf", "nan")
)
MAX_INT = 2**63  # a larger integer literal is an attack on the host, not a hyperparameter


@dataclass
class Scope:
    """What the names of one hypothesis mean, gathered before its function is checked."""

    policy: Policy
    aliases: dict[str, str] = field(default_factory=dict)  # name -> qualified import path
    constants: set[str] = field(default_factory=set)
    local: set[str] = field(default_factory=set)  # arguments and assigned names
    helpers: set[str] = field(default_factory=set)  # functions defined inside the function
    accumulators: set[str] = field(default_factory=set)
    roots: set[int] = field(default_factory=set)  # ids of nodes that are `a` in an `a.b`
    type_context: set[int] = field(default_factory=set)  # ids of names in isinstance's types
    # ids of names and dotted names a call calls, or hands to an allowed function as an argument
    called: set[int] = field(default_factory=set)


def refuse(line: int, text: str) -> NoReturn:
    """Raise the one-line refusal for ``line``."""
    raise StaticCheckError(f"line {line}: {text}")


def top_level(tree: ast.Module, scope: Scope) -> ast.FunctionDef:
    """Top level: imports, a docstring, numeric constants and the one function."""
    name = scope.policy.function
    functions = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            _import(node, scope)
        elif isinstance(node, ast.ImportFrom):
            _import_from(node, scope)
        elif isinstance(node, ast.FunctionDef):
            functions.append(node)
        elif i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module's docstring
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            _constant(node, scope)
        else:
            refuse(
                node.lineno,
                f"only imports, a docstring, numeric constants and the function {name} may be "
                "at the top level",
            )
    found = [f.name for f in functions]
    if found != [name]:
        raise StaticCheckError(f"expected exactly one function named '{name}', found {found}")
    return functions[0]


def _import(node: ast.Import, scope: Scope) -> None:
    modules = scope.policy.modules
    for a in node.names:
        if a.name not in modules or a.name == "typing":
            allowed = ", ".join(m for m in sorted(modules) if m != "typing")
            refuse(node.lineno, f"import of {a.name} is not allowed (allowed: {allowed})")
        path = a.name if a.asname else a.name.split(".")[0]
        new_name(a.asname or path, node.lineno, scope, imported=True)
        scope.aliases[a.asname or path] = path


def _import_from(node: ast.ImportFrom, scope: Scope) -> None:
    module, names = node.module or "", [a.name for a in node.names]
    if module == "__future__" and names == ["annotations"] and not node.level:
        return  # the one dunder allowed: it only makes annotations lazy
    if node.level or module not in scope.policy.modules:
        refuse(node.lineno, f"import from {'.' * node.level}{module} is not allowed")
    for a in node.names:
        path = f"{module}.{a.name}"
        if kind(path, scope.policy) is None:
            refuse(node.lineno, f"{path} is not an allowed {module} name")
        new_name(a.asname or a.name, node.lineno, scope, imported=True)
        scope.aliases[a.asname or a.name] = path


def _constant(node: ast.Assign | ast.AnnAssign, scope: Scope) -> None:
    """Module-level constants: ``NAME = <numbers>`` or ``A, B = <number>, <number>``
    (arithmetic, math constants and tuples allowed)."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    pairs = _constant_pairs(targets, node.value)
    if pairs is None:
        refuse(node.lineno, "a module-level constant must be one name set to a number")
    if isinstance(node, ast.AnnAssign):
        annotation(node.annotation, node.lineno, scope)
    for name, value in pairs:
        if not _numeric(value, scope):
            refuse(node.lineno, f"the constant {show(name)} must be a number or a tuple of numbers")
    for name, _ in pairs:
        new_name(name, node.lineno, scope)
        scope.constants.add(name)


def _constant_pairs(
    targets: Sequence[ast.expr], value: ast.expr | None
) -> list[tuple[str, ast.expr]] | None:
    """(name, value) for each constant an assignment defines, or None if it is not one."""
    if len(targets) != 1 or value is None:
        return None
    target = targets[0]
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if not (isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)):
        return None
    if len(target.elts) != len(value.elts) or not all(isinstance(t, ast.Name) for t in target.elts):
        return None
    return [(t.id, v) for t, v in zip(target.elts, value.elts, strict=True)]  # type: ignore[attr-defined]


def _numeric(value: ast.expr, scope: Scope) -> bool:
    """Whether ``value`` is built from numbers, earlier constants, math constants and math
    functions by arithmetic and tuples (what ``EPS = 1e-8`` or ``SCALE = 1 / math.sqrt(2)``
    need; anything else at the top level would be code run at load time)."""
    stack: list[ast.AST] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            ok = is_number(node.value)
        elif isinstance(node, ast.UnaryOp | ast.Tuple | ast.BinOp):
            ok = not isinstance(node, ast.BinOp) or _small_power(node)
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.Name) and node.id in scope.constants:
            ok = True
        elif isinstance(node, ast.Name | ast.Attribute):
            ok = path_of(node, scope) in MATH_CONSTANTS
        elif isinstance(node, ast.Call) and not node.keywords:
            path = path_of(node.func, scope) or ""
            ok = path.startswith("math.") and kind(path, scope.policy) == "member"
            stack.extend(node.args)
        else:
            ok = isinstance(node, ast.operator | ast.unaryop | ast.expr_context)
        if not ok:
            return False
    return True


def is_number(v: object) -> bool:
    """An int (bounded: a huge literal is an attack, not a hyperparameter), float or bool."""
    return isinstance(v, float) or (isinstance(v, int) and abs(v) < MAX_INT)


def _small_power(node: ast.BinOp) -> bool:
    """``a ** b`` only of two literals and an exponent of at most 64 (no ``10 ** 10 ** 10`` run
    at load)."""
    if not isinstance(node.op, ast.Pow):
        return True
    a, b = (n.operand if isinstance(n, ast.UnaryOp) else n for n in (node.left, node.right))
    literals = [n.value for n in (a, b) if isinstance(n, ast.Constant) and is_number(n.value)]
    return len(literals) == 2 and abs(literals[1]) <= 64  # type: ignore[arg-type]


def signature(fn: ast.FunctionDef, policy: Policy) -> None:
    a = fn.args
    if fn.decorator_list:
        refuse(fn.decorator_list[0].lineno, "decorators are not allowed")
    if len(a.args) != len(policy.params) or a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg:
        args = ", ".join(policy.params)
        refuse(fn.lineno, f"{fn.name} must take exactly {count(policy.params)}: {fn.name}({args})")
    if a.defaults:
        refuse(fn.lineno, "default argument values are not allowed: they keep state across calls")
    if getattr(fn, "type_params", None):
        refuse(fn.lineno, "type parameters are not allowed")


def new_name(name: str, line: int, scope: Scope, *, imported: bool = False) -> None:
    """Refuse a definition that would take a name no hypothesis may define."""
    if name != "_" and name.startswith("_"):
        refuse(line, f"the name {show(name)}: dunder and private names are not allowed")
    if name in BUILTIN_NAMES:
        refuse(line, f"the name {name} shadows a builtin")
    if name in scope.policy.reserved and not imported:
        refuse(line, f"the name {name} is reserved for the runner and the imports")
    if name in scope.constants or (name in scope.aliases and not imported):
        refuse(line, f"the name {show(name)} is defined twice at the top level")


def annotation(node: ast.expr, line: int, scope: Scope) -> None:
    """Check an annotation as the name of a type (never as code): allowed types, allowed
    module names, None, subscripts, unions and tuples of them, or one string holding such."""
    stack = [(node, False)]
    while stack:
        item, in_string = stack.pop()
        if isinstance(item, ast.Constant) and (item.value is None or item.value is Ellipsis):
            continue
        if isinstance(item, ast.Constant) and isinstance(item.value, str) and not in_string:
            try:
                stack.append((parse_expression(item.value, max_bytes=200), True))
            except StaticCheckError as exc:
                refuse(line, f"unreadable string annotation ({exc})")
        elif isinstance(item, ast.Name | ast.Attribute):
            _annotation_name(item, line, scope)
        elif isinstance(item, ast.Subscript):
            stack += [(item.value, in_string), (item.slice, in_string)]
        elif isinstance(item, ast.Tuple | ast.List):
            stack += [(e, in_string) for e in item.elts]
        elif isinstance(item, ast.BinOp) and isinstance(item.op, ast.BitOr):
            stack += [(item.left, in_string), (item.right, in_string)]
        else:
            refuse(line, f"annotations must name types, not {type(item).__name__}")


def _annotation_name(node: ast.Name | ast.Attribute, line: int, scope: Scope) -> None:
    spelled = spell(node)
    if any(part.startswith("_") for part in spelled.split(".")):
        refuse(line, f"{spelled}: dunder and private names are not allowed")
    if isinstance(node, ast.Name) and node.id in BUILTIN_TYPES:
        return
    path = path_of(node, scope)
    if path is None or kind(path, scope.policy) not in ("type", "member"):
        refuse(line, f"{spelled} is not an allowed annotation: annotations must name allowed types")


def path_of(node: ast.expr, scope: Scope) -> str | None:
    """The qualified name of a dotted name rooted at an import (``np.linalg.norm`` ->
    ``numpy.linalg.norm``), or None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in scope.aliases:
        return None
    return ".".join([scope.aliases[node.id], *reversed(parts)])


def kind(path: str, policy: Policy) -> str | None:
    """'module', 'type' or 'member' (an allowed function or constant) for a qualified name
    on the policy's lists; None for anything else."""
    if path in policy.modules:
        return "module"
    if path in policy.types:
        return "type"
    parent, _, leaf = path.rpartition(".")
    return "member" if leaf in policy.modules.get(parent, ()) else None


def spell(node: ast.expr) -> str:
    """How the source spells a dotted name (``np.lib``); ``(...)`` for a computed root."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(show(node.attr))
        node = node.value
    parts.append(show(node.id) if isinstance(node, ast.Name) else "(...)")
    return ".".join(reversed(parts))


def show(name: str) -> str:
    """A name as a message shows it: a hostile 5,000-character identifier is cut short."""
    return name if len(name) <= 40 else name[:37] + "..."
