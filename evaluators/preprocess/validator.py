"""Static check of a preprocessing hypothesis: numpy code that defines
``preprocess(X_train, X_test)``. A first filter with clear reasons; the sandbox is the boundary,
and the harness's one-row-at-a-time test calls make test-set leakage impossible whatever the code.
"""

from __future__ import annotations

import ast

MAX_SOURCE_BYTES = 10_000
ALLOWED_IMPORTS = frozenset({"numpy", "math"})
FORBIDDEN_NAMES = frozenset(
    """open exec eval compile __import__ getattr setattr delattr globals locals vars input
    breakpoint help memoryview object type super""".split()
)
# numpy attributes that read or write files, reach C, or load code
FORBIDDEN_ATTRIBUTES = frozenset(
    """load save savez savez_compressed savetxt loadtxt genfromtxt fromfile tofile memmap
    fromregex DataSource lib ctypeslib testing f2py distutils ctypes dump dumps""".split()
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
)


class StaticCheckError(ValueError):
    """Why a hypothesis's source was rejected (one sentence)."""


def check_source(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable preprocessing hypothesis."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise StaticCheckError(f"source is longer than {MAX_SOURCE_BYTES} bytes")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise StaticCheckError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    top = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if [f.name for f in top] != ["preprocess"]:
        raise StaticCheckError("expected exactly one top-level function named 'preprocess'")
    args = top[0].args
    if len(args.args) != 2 or args.vararg or args.kwarg or args.kwonlyargs:
        raise StaticCheckError("preprocess must take exactly two arguments: (X_train, X_test)")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, FORBIDDEN_NODES):
            raise StaticCheckError(f"line {line}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.split(".")[0] not in ALLOWED_IMPORTS for n in names) or (
                isinstance(node, ast.ImportFrom) and node.module not in ALLOWED_IMPORTS
            ):
                raise StaticCheckError(f"line {line}: only numpy and math may be imported")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise StaticCheckError(f"line {line}: {node.id} is not allowed")
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise StaticCheckError(f"line {line}: access to private or dunder attribute")
            if node.attr in FORBIDDEN_ATTRIBUTES:
                raise StaticCheckError(f"line {line}: {node.attr} (file or C access) not allowed")
