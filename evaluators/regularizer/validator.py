"""Static check of a regularizer hypothesis: torch code that defines
``penalty(model, logits, targets)`` and optionally numeric constants such as ``DROPOUT``. A first
filter with clear reasons; the sandbox is the boundary and the runner re-checks the behaviour.
"""

from __future__ import annotations

import ast

from evaluators.static_check import (
    FORBIDDEN_NAMES,
    FORBIDDEN_NODES,
    StaticCheckError,
    forbidden,
    only_function,
    parse,
)

ALLOWED_IMPORTS = frozenset({"torch", "math", "torch.nn.functional"})
# Attributes that would change the network, the training state, files or global torch settings.
FORBIDDEN_ATTRIBUTES = frozenset(
    """save load manual_seed seed set_default_dtype set_num_threads set_grad_enabled train eval
    apply to cuda cpu register_buffer register_parameter register_module register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    load_state_dict add_module hub utils backends ops classes jit compile distributed
    multiprocessing fx optim data grad""".split()
)
NODES = (*FORBIDDEN_NODES, ast.While)

__all__ = ["StaticCheckError", "check_source"]


def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable regularizer hypothesis."""
    tree = parse(source)
    only_function(tree, "penalty", ("model", "logits", "targets"))
    for node in ast.walk(tree):
        forbidden(node, NODES, FORBIDDEN_NAMES)
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import) and any(a.name not in ALLOWED_IMPORTS for a in node.names):
            raise StaticCheckError(f"line {line}: only torch, math and torch.nn.functional")
        if isinstance(node, ast.ImportFrom) and not (
            node.module == "torch.nn" and [a.name for a in node.names] == ["functional"]
        ):
            raise StaticCheckError(f"line {line}: this import is not allowed")
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
