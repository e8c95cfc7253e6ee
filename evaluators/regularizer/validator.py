"""Static check of a regularizer hypothesis: torch code that defines
``penalty(model, logits, targets)`` and optionally numeric constants such as ``DROPOUT``. A first
filter with clear reasons; the sandbox is the boundary and the runner re-checks the behaviour.
"""

from __future__ import annotations

import ast

MAX_SOURCE_BYTES = 10_000
ALLOWED_IMPORTS = frozenset({"torch", "math", "torch.nn.functional"})
FORBIDDEN_NAMES = frozenset(
    """open exec eval compile __import__ getattr setattr delattr globals locals vars input
    breakpoint memoryview object type super""".split()
)
# Attributes that would change the network, the training state, files or global torch settings.
FORBIDDEN_ATTRIBUTES = frozenset(
    """save load manual_seed seed set_default_dtype set_num_threads set_grad_enabled train eval
    apply to cuda cpu register_buffer register_parameter register_module register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    load_state_dict add_module hub utils backends ops classes jit compile distributed
    multiprocessing fx optim data grad""".split()
)
FORBIDDEN_NODES = (
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
    ast.While,
)


class StaticCheckError(ValueError):
    """Why a hypothesis's source was rejected (one sentence)."""


def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable regularizer hypothesis."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise StaticCheckError(f"source is longer than {MAX_SOURCE_BYTES} bytes")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise StaticCheckError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    top = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if [f.name for f in top] != ["penalty"]:
        raise StaticCheckError("expected exactly one top-level function named 'penalty'")
    args = top[0].args
    if len(args.args) != 3 or args.vararg or args.kwarg or args.kwonlyargs:
        raise StaticCheckError(
            "penalty must take exactly three arguments: (model, logits, targets)"
        )
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, FORBIDDEN_NODES):
            raise StaticCheckError(f"line {line}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Import) and any(a.name not in ALLOWED_IMPORTS for a in node.names):
            raise StaticCheckError(f"line {line}: only torch, math and torch.nn.functional")
        if isinstance(node, ast.ImportFrom) and not (
            node.module == "torch.nn" and [a.name for a in node.names] == ["functional"]
        ):
            raise StaticCheckError(f"line {line}: this import is not allowed")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise StaticCheckError(f"line {line}: {node.id} is not allowed")
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr.endswith("_"):
                raise StaticCheckError(
                    f"line {line}: {node.attr}: private, dunder or in-place operations "
                    "are not allowed"
                )
            if node.attr in FORBIDDEN_ATTRIBUTES:
                raise StaticCheckError(f"line {line}: {node.attr} would change state; not allowed")
            if isinstance(node.ctx, ast.Store | ast.Del):
                raise StaticCheckError(f"line {line}: attribute assignment is not allowed")
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            raise StaticCheckError(f"line {line}: item assignment (in-place change) not allowed")
        if isinstance(node, ast.AugAssign) and not isinstance(node.target, ast.Name):
            raise StaticCheckError(f"line {line}: in-place assignment is not allowed")
