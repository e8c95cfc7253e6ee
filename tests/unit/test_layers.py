"""The layer order (ARCHITECTURE.md), checked on the source: every ``import`` and ``from ...
import`` of the project's packages, at module level or inside a function or an ``if
TYPE_CHECKING:`` block, and ``importlib.import_module("...")`` with a literal name.

The packages form one order, lowest first (``LAYERS``); a module imports its own package and the
packages below it, never one above:

    core < sandbox < evaluators < literature < prompts < agents < store < graph < hypoforge

``core`` is the shared vocabulary and imports no other project package; ``hypoforge`` is the
application (the campaign runner, reports, paper, review, chat, live view, reproduction and the
CLI). Inside the application, only ``hypoforge/cli/`` imports ``hypoforge.cli``, and its command
modules never import the package itself (its ``__init__`` builds ``app`` from them; only
``__main__`` may).
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (
    "core",
    "sandbox",
    "evaluators",
    "literature",
    "prompts",
    "agents",
    "store",
    "graph",
    "hypoforge",
)
PROJECT = frozenset(LAYERS)
CLI = "hypoforge.cli"


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository root
    line: int
    target: str  # the module imported, absolute and as precise as the source allows
    source: str  # the statement as written

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source}  (imports {self.target})"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str, root: Path = ROOT) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def imports_of(
    source: str, module: str, file: str, is_package: bool = False, root: Path = ROOT
) -> list[Import]:
    """Every import of a project module in ``source`` (the code of ``module``), anywhere in it."""
    tree = ast.parse(source, filename=file)
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def add(node: ast.stmt | ast.expr, target: str) -> None:
        if target.split(".")[0] in PROJECT:
            text = ast.get_source_segment(source, node) or target
            found.append(Import(file, node.lineno, target, " ".join(text.split())))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            # ``from hypoforge import cli`` imports the module hypoforge.cli
            subs = (f"{base}.{alias.name}" for alias in node.names)
            for target in dict.fromkeys(s if is_module(s, root) else base for s in subs):
                add(node, target)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node, node.args[0].value)
    return found


def project_files(root: Path = ROOT) -> list[Path]:
    return [
        p
        for layer in LAYERS
        for p in sorted((root / layer).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


def tree_imports(root: Path = ROOT) -> list[Import]:
    """Every import of a project module in the tree at ``root``."""
    found: list[Import] = []
    for path in project_files(root):
        rel = path.relative_to(root).as_posix()
        name = module_name(path, root)
        found += imports_of(path.read_text(), name, rel, path.name == "__init__.py", root)
    return found


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward(found: list[Import]) -> list[Import]:
    """The imports of a package above the importing module's own."""
    return [i for i in found if layer(i.target) > layer(i.file.split("/")[0])]


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    return tree_imports()


def violations(found: list[Import], rule) -> str:
    bad = [str(i) for i in found if rule(i)]
    return "\n".join(bad)


def test_every_layer_has_source_files():
    for name in LAYERS:
        assert any(p.relative_to(ROOT).parts[0] == name for p in project_files()), name


def test_every_installed_package_is_in_a_layer():
    text = (ROOT / "pyproject.toml").read_text()
    line = next(x for x in text.splitlines() if x.startswith("include = ["))
    installed = {n.strip(' "*') for n in line.split("[", 1)[1].rstrip("]").split(",")}
    assert installed == set(LAYERS)


def test_no_module_imports_a_layer_above_its_own(all_imports):
    assert all_imports, "the walker found no imports at all"
    bad = "\n".join(map(str, upward(all_imports)))
    assert not bad, f"imports against the layer order {' < '.join(LAYERS)}:\n{bad}"


def test_core_imports_no_other_project_package(all_imports):
    bad = violations(all_imports, lambda i: i.file.startswith("core/") and layer(i.target) > 0)
    assert not bad, bad


@pytest.mark.slow
def test_an_upward_import_planted_in_a_copy_of_the_tree_is_found(tmp_path):
    for name in LAYERS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    assert upward(tree_imports(tmp_path)) == []
    text = tmp_path / "core" / "text.py"
    text.write_text(text.read_text() + "\nfrom graph import nodes\n")
    base = tmp_path / "sandbox" / "base.py"
    base.write_text(base.read_text() + "\ndef _late():\n    import hypoforge.report\n")
    stats = tmp_path / "evaluators" / "stats.py"
    stats.write_text(
        stats.read_text() + "\nimport importlib\n_m = importlib.import_module('store.ledger')\n"
    )
    found = sorted((i.file, i.target) for i in upward(tree_imports(tmp_path)))
    assert found == [
        ("core/text.py", "graph.nodes"),
        ("evaluators/stats.py", "store.ledger"),
        ("sandbox/base.py", "hypoforge.report"),
    ]


def test_a_layer_may_import_itself_and_the_layers_below():
    def imp(file: str, target: str) -> Import:
        return Import(file, 1, target, f"import {target}")

    allowed = [imp("graph/nodes.py", t) for t in ("core.records", "store.ledger", "graph.deps")]
    assert upward(allowed) == []
    refused = [imp("agents/analyst.py", "store.ledger"), imp("literature/scholar.py", "agents")]
    assert upward(refused) == refused


def test_nothing_outside_the_cli_imports_it(all_imports):
    def rule(i: Import) -> bool:
        return not i.file.startswith("hypoforge/cli/") and within(i.target, CLI)

    bad = violations(all_imports, rule)
    assert not bad, f"only hypoforge/cli/ may import hypoforge.cli:\n{bad}"


def test_the_cli_modules_do_not_import_their_package(all_imports):
    def rule(i: Import) -> bool:
        child = i.file.startswith("hypoforge/cli/") and i.file != "hypoforge/cli/__main__.py"
        return child and i.target == CLI

    bad = violations(all_imports, rule)
    assert not bad, (
        f"hypoforge/cli/ modules import hypoforge.cli.<module> (common...), never the package:\n"
        f"{bad}"
    )


def test_the_checker_sees_every_kind_of_import():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import graph.build\n"
        "from hypoforge import cli\n"
        "from hypoforge.cli.common import out\n"
        "from . import novelty\n"
        "from ..core import errors\n"
        "if TYPE_CHECKING:\n"
        "    from agents.llm import make_chat_model\n"
        "def f():\n"
        "    import importlib\n"
        "    from graph import nodes\n"
        "    return importlib.import_module('sandbox.build')\n"
    )
    found = imports_of(source, "evaluators.example", "evaluators/example.py")
    found.sort(key=lambda i: i.line)
    assert [(i.line, i.target) for i in found] == [
        (2, "graph.build"),
        (3, "hypoforge.cli"),
        (4, "hypoforge.cli.common"),
        (5, "evaluators.novelty"),
        (6, "core.errors"),
        (8, "agents.llm"),
        (11, "graph.nodes" if is_module("graph.nodes") else "graph"),
        (12, "sandbox.build"),
    ]
    assert str(found[0]).startswith("evaluators/example.py:2: import graph.build")


def test_tests_share_fakes_through_one_module_not_through_each_other():
    """Shared fakes live in ``tests/fakes.py`` (and fixtures in conftest): no test file imports
    another test file."""
    tests = Path(__file__).resolve().parents[1]
    bad = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.split(".")[-1].startswith("test_"):
                    bad.append(f"{path.relative_to(tests)}:{node.lineno}: imports {name}")
    assert not bad, "\n".join(bad)


def test_no_task_imports_another_task_and_the_kit_imports_none(all_imports):
    """Each task folder under ``evaluators/`` (one with a ``task.toml``) imports the kit and the
    shared evaluator modules, never another task's; what tasks share lives in ``evaluators/kit/``,
    which imports no task."""
    tasks = {p.parent.name for p in (ROOT / "evaluators").glob("*/task.toml")}
    assert {"activation", "grokking", "preprocess", "regularizer"} <= tasks

    def task_of(module: str) -> str | None:
        parts = module.split(".")
        return (
            parts[1] if len(parts) > 1 and parts[0] == "evaluators" and parts[1] in tasks else None
        )

    def rule(i: Import) -> bool:
        importer = task_of(module_name(ROOT / i.file))
        target = task_of(i.target)
        if i.file.startswith("evaluators/kit/"):
            return target is not None
        return importer is not None and target is not None and target != importer

    bad = violations(all_imports, rule)
    assert not bad, (
        f"a task imports another task's module (share it through evaluators/kit):\n{bad}"
    )
