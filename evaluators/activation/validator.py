"""Static check of an activation hypothesis, before anything runs.

A hypothesis is Python source that defines exactly one top-level function,
``activation(x: torch.Tensor) -> torch.Tensor``, built from an allowlist of elementwise torch and
math operations. The check is a first filter that gives clear reasons; it is not the security
boundary (the sandbox is), so it errs on the side of rejecting.
"""

from __future__ import annotations

import ast

from evaluators.static_check import FORBIDDEN_NODES as COMMON_NODES
from evaluators.static_check import StaticCheckError, parse

__all__ = ["StaticCheckError", "check_source"]

ALLOWED_IMPORTS = {"torch": "torch", "math": "math", "torch.nn.functional": "F"}

# Elementwise, differentiable-or-harmless operations, reachable as torch.X, F.X or tensor.X().
TORCH_OPS = frozenset(
    """abs absolute acos acosh add asin asinh atan atan2 atanh ceil clamp clamp_max clamp_min
    clip cos cosh div erf erfc exp exp2 expm1 floor frac heaviside hypot lerp log log10 log1p
    log2 logaddexp logit maximum minimum mul neg negative pow reciprocal relu round rsqrt sigmoid
    sign sin sinc sinh sqrt square sub tan tanh trunc where xlogy zeros_like ones_like
    full_like float_power fmod remainder copysign nan_to_num special""".split()
)
SPECIAL_OPS = frozenset("expit erf erfc erfinv logit log1p sinc xlogy ndtr log_ndtr i0".split())
FUNCTIONAL_OPS = frozenset(
    """relu relu6 elu selu celu gelu silu mish softplus softsign leaky_relu hardtanh hardswish
    hardsigmoid logsigmoid tanhshrink softshrink hardshrink sigmoid tanh""".split()
)
MATH_NAMES = frozenset(
    """pi e tau inf sqrt exp log log1p expm1 sin cos tan atan tanh erf erfc pow fabs""".split()
)
TENSOR_METHODS = TORCH_OPS - {"zeros_like", "ones_like", "full_like", "where", "special"}
BUILTINS = frozenset(["abs", "min", "max", "float", "int", "range", "len", "round", "pow", "sum"])

FORBIDDEN_NODES = (*COMMON_NODES, ast.Delete, ast.While, ast.Lambda, ast.NamedExpr, ast.Starred)


def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable activation hypothesis."""
    tree = parse(source)
    aliases, constants = _check_module(tree)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    _check_signature(fn)
    _check_body(fn, aliases, constants)


def _check_module(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Top level: imports from the allowlist, one function, numeric constants.

    Returns (alias -> module name, constant names).
    """
    aliases: dict[str, str] = {}
    constants: set[str] = set()
    functions = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name not in ALLOWED_IMPORTS:
                    raise StaticCheckError(f"line {node.lineno}: import of {a.name} not allowed")
                aliases[a.asname or a.name.split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom):
            if node.module != "torch.nn" or [a.name for a in node.names] != ["functional"]:
                raise StaticCheckError(f"line {node.lineno}: this import is not allowed")
            aliases[node.names[0].asname or "functional"] = "torch.nn.functional"
        elif isinstance(node, ast.FunctionDef):
            functions.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and i == 0:
            continue  # module docstring
        elif isinstance(node, ast.Assign) and _is_constant_assign(node):
            constants.add(node.targets[0].id)  # type: ignore[attr-defined]
        else:
            raise StaticCheckError(
                f"line {node.lineno}: only imports, constants and the activation function are "
                "allowed at the top level"
            )
    names = [f.name for f in functions]
    if names != ["activation"]:
        raise StaticCheckError(f"expected exactly one function named 'activation', found {names}")
    return aliases, constants


def _is_constant_assign(node: ast.Assign) -> bool:
    simple_target = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    value = node.value
    if isinstance(value, ast.UnaryOp):
        value = value.operand
    return simple_target and isinstance(value, ast.Constant) and _is_number(value.value)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_signature(fn: ast.FunctionDef) -> None:
    a = fn.args
    if fn.decorator_list:
        raise StaticCheckError("decorators are not allowed")
    if len(a.args) != 1 or a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg or a.defaults:
        raise StaticCheckError("activation must take exactly one argument: activation(x)")


def _check_body(fn: ast.FunctionDef, aliases: dict[str, str], constants: set[str]) -> None:
    local = {fn.args.args[0].arg}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name | ast.arg) and isinstance(
            getattr(node, "ctx", None), ast.Store
        ):
            local.add(node.id)  # type: ignore[union-attr]
        elif isinstance(node, ast.comprehension):
            local.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    for node in ast.walk(fn):
        if isinstance(node, FORBIDDEN_NODES):
            line = getattr(node, "lineno", fn.lineno)
            raise StaticCheckError(f"line {line}: {type(node).__name__} is not allowed")
    known = local | set(aliases) | BUILTINS | constants
    unknown = {
        n.id
        for n in ast.walk(fn)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in known
    }
    if unknown:
        raise StaticCheckError(f"unknown or forbidden names: {', '.join(sorted(unknown))}")
    # Inner links of a dotted chain (``torch.special`` in ``torch.special.expit``) are checked
    # as part of the whole chain.
    inner = {
        id(n.value) for n in ast.walk(fn) if isinstance(n, ast.Attribute) and _dotted(n) is not None
    }
    for node in ast.walk(fn):
        line = getattr(node, "lineno", fn.lineno)
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise StaticCheckError(f"line {line}: imports inside the function are not allowed")
        if isinstance(node, ast.FunctionDef) and node is not fn:
            raise StaticCheckError(f"line {line}: nested functions are not allowed")
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            _check_attribute(node, aliases, local, line)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise StaticCheckError(f"line {line}: access to private or dunder attribute")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            raise StaticCheckError(f"line {line}: item assignment (in-place change) not allowed")
        elif isinstance(node, ast.AugAssign) and not isinstance(node.target, ast.Name):
            raise StaticCheckError(
                f"line {line}: in-place assignment to {ast.unparse(node.target)}"
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            raise StaticCheckError(f"line {line}: bytes literals are not allowed")


def _check_attribute(
    node: ast.Attribute, aliases: dict[str, str], local: set[str], line: int
) -> None:
    if node.attr.startswith("_"):
        raise StaticCheckError(f"line {line}: access to private or dunder attribute {node.attr!r}")
    if isinstance(node.ctx, ast.Store | ast.Del):
        raise StaticCheckError(f"line {line}: attribute assignment is not allowed")
    chain = _dotted(node)
    if chain is None:
        # Method on a computed value, e.g. (x * 2).sigmoid()
        if node.attr not in TENSOR_METHODS:
            raise StaticCheckError(f"line {line}: method {node.attr!r} is not allowed")
        return
    root, *rest = chain
    if root in aliases:
        module = aliases[root]
        full = [*module.split("."), *rest]
        if not _allowed_module_path(full):
            raise StaticCheckError(f"line {line}: {'.'.join(full)} is not an allowed operation")
    elif root in local:
        if len(rest) != 1 or rest[0] not in TENSOR_METHODS:
            raise StaticCheckError(f"line {line}: method {'.'.join(rest)!r} is not allowed")
    else:
        raise StaticCheckError(f"line {line}: unknown name {root!r}")


def _allowed_module_path(full: list[str]) -> bool:
    """Whether a fully qualified name, e.g. ['torch', 'nn', 'functional', 'gelu'], is allowed."""
    if full[0] == "math":
        return len(full) == 2 and full[1] in MATH_NAMES
    if full[:3] == ["torch", "nn", "functional"]:
        return len(full) == 4 and full[3] in FUNCTIONAL_OPS
    if full[:2] == ["torch", "special"]:
        return len(full) == 3 and full[2] in SPECIAL_OPS
    return full[0] == "torch" and len(full) == 2 and full[1] in TORCH_OPS - {"special"}


def _dotted(node: ast.Attribute) -> list[str] | None:
    """['a', 'b', 'c'] for ``a.b.c`` rooted at a plain name; None for computed roots."""
    parts = [node.attr]
    cur: ast.expr = node.value
    while isinstance(cur, ast.Attribute):
        parts.append(cur.attr)
        cur = cur.value
    if isinstance(cur, ast.Name):
        parts.append(cur.id)
        return parts[::-1]
    return None
