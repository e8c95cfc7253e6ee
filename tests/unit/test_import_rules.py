"""The dependency rule (ARCHITECTURE.md), checked on the source: every ``import`` and
``from ... import`` of the project's packages, at module level or inside a function or an
``if TYPE_CHECKING:`` block, and ``importlib.import_module("...")`` with a literal name.

- the rooms (``agents``, ``sandbox``, ``evaluators``) never import ``graph`` or ``hypoforge.cli``
  (``hypoforge/campaign.py``, the runner, may import ``graph``);
- nothing outside ``hypoforge/cli/`` imports ``hypoforge.cli``;
- inside ``hypoforge/cli/`` no command module imports the package itself (its ``__init__`` builds
  ``app`` from them; only ``__main__`` may import it), only its submodules;
- the core modules (``hypoforge/records.py``, ``errors.py``, ``settings.py``, ``text.py``) import
  no other project module than each other.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("agents", "sandbox", "evaluators", "graph", "hypoforge", "prompts")
PROJECT = frozenset(SCANNED)
ROOMS = ("agents", "sandbox", "evaluators")
CORE = frozenset({"hypoforge.records", "hypoforge.errors", "hypoforge.settings", "hypoforge.text"})
CLI = "hypoforge.cli"


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository root
    line: int
    target: str  # the module imported, absolute and as precise as the source allows
    source: str  # the statement as written

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source}  (imports {self.target})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def imports_of(source: str, module: str, file: str, is_package: bool = False) -> list[Import]:
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
            for target in dict.fromkeys(s if is_module(s) else base for s in subs):
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


def project_files() -> list[Path]:
    return [
        p
        for root in SCANNED
        for p in sorted((ROOT / root).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    found: list[Import] = []
    for path in project_files():
        rel = path.relative_to(ROOT).as_posix()
        found += imports_of(path.read_text(), module_name(path), rel, path.name == "__init__.py")
    return found


def violations(found: list[Import], rule) -> str:
    bad = [str(i) for i in found if rule(i)]
    return "\n".join(bad)


def test_every_scanned_room_has_source_files():
    for root in SCANNED:
        assert any(p.relative_to(ROOT).parts[0] == root for p in project_files()), root


def test_the_rooms_import_neither_graph_nor_the_cli(all_imports):
    def rule(i: Import) -> bool:
        in_room = i.file.split("/")[0] in ROOMS
        return in_room and (within(i.target, "graph") or within(i.target, CLI))

    bad = violations(all_imports, rule)
    assert not bad, f"agents/, sandbox/ and evaluators/ must not import graph or the CLI:\n{bad}"


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


def test_the_core_modules_import_only_each_other(all_imports):
    core_files = {c.replace(".", "/") + ".py" for c in CORE}
    assert all((ROOT / f).is_file() for f in core_files), core_files

    def rule(i: Import) -> bool:
        return i.file in core_files and i.target not in CORE

    bad = violations(all_imports, rule)
    assert not bad, (
        "hypoforge/{records,errors,settings,text}.py may import no project module but each "
        f"other:\n{bad}"
    )


def test_the_checker_sees_every_kind_of_import():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import graph.build\n"
        "from hypoforge import cli\n"
        "from hypoforge.cli.common import out\n"
        "from . import novelty\n"
        "from ..hypoforge import errors\n"
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
        (6, "hypoforge.errors"),
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
