"""Static check of a preprocessing hypothesis: numpy code that defines
``preprocess(X_train, X_test)``. A first filter with clear reasons; the sandbox is the boundary,
and the harness's one-row-at-a-time test calls make test-set leakage impossible whatever the code.
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

ALLOWED_IMPORTS = frozenset({"numpy", "math"})
NAMES = FORBIDDEN_NAMES | {"help"}
# numpy attributes that read or write files, reach C, or load code
FORBIDDEN_ATTRIBUTES = frozenset(
    """load save savez savez_compressed savetxt loadtxt genfromtxt fromfile tofile memmap
    fromregex DataSource lib ctypeslib testing f2py distutils ctypes dump dumps""".split()
)

__all__ = ["StaticCheckError", "check_source"]


def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable preprocessing hypothesis."""
    tree = parse(source)
    only_function(tree, "preprocess", ("X_train", "X_test"))
    for node in ast.walk(tree):
        forbidden(node, FORBIDDEN_NODES, NAMES)
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.split(".")[0] not in ALLOWED_IMPORTS for n in names) or (
                isinstance(node, ast.ImportFrom) and node.module not in ALLOWED_IMPORTS
            ):
                raise StaticCheckError(f"line {line}: only numpy and math may be imported")
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise StaticCheckError(f"line {line}: access to private or dunder attribute")
            if node.attr in FORBIDDEN_ATTRIBUTES:
                raise StaticCheckError(f"line {line}: {node.attr} (file or C access) not allowed")
