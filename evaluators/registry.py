"""Research tasks are plugins: a folder with a ``task.toml`` spec, a fixed harness, baselines,
notes for the agents and optional prompt overrides. Adding one needs no change outside its folder.

``task.toml``::

    name = "activation"
    summary = "one line for `hypoforge tasks list`"
    slot = "activation(x: Tensor) -> Tensor"     # what a hypothesis defines
    evaluator = "harness:ActivationEvaluator"     # module in the folder : class
    generator = "search:SearchGenerator"          # optional non-LLM proposer
    report = "report:ActivationReport"            # optional figures for the campaign report

Each key is checked (``TaskSpec``): an unknown key or a bad value is a ``ConfigError`` naming the
file and the key. The evaluator class is built as ``cls(sandbox, home, limits, **options)`` and
keeps the plugin contract, ``evaluators.contract.TaskEvaluator`` (required members, optional
capabilities, report hooks). ``examples/tasks/curvefit`` is a complete small task to start from.

Where tasks are found: every folder beside this file that holds a ``task.toml`` (the built-in
tasks), then each folder named in ``HYPOFORGE_TASKS`` (``os.pathsep``-separated; a task folder, or
a folder of task folders).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError
from evaluators.contract import ReportHooks, TaskEvaluator

BUILTIN = Path(__file__).parent
Ref = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]  # "module:attribute"


class TaskSpec(BaseModel):
    """A ``task.toml``, checked: every key known, every value of its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    summary: Annotated[str, Field(min_length=1)]
    slot: Annotated[str, Field(pattern=r"^[A-Za-z_]\w*\(.*\)")]  # "f(x: float) -> float"
    evaluator: Ref
    generator: Ref | None = None  # a non-LLM proposer, built as cls(seed)
    report: Ref | None = None  # the task's report hooks (``evaluators.contract.ReportHooks``)


@dataclass(frozen=True)
class TaskPlugin:
    spec: TaskSpec
    folder: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def summary(self) -> str:
        return self.spec.summary

    @property
    def slot(self) -> str:
        return self.spec.slot

    @property
    def generator(self) -> str | None:
        return self.spec.generator

    @property
    def report(self) -> str | None:
        return self.spec.report

    @property
    def function(self) -> str:
        """The name a hypothesis defines, from the slot: ``f(x: float) -> float`` -> ``f``."""
        return self.slot.split("(", 1)[0].strip()

    def _attr(self, ref: str) -> Any:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(f"{_package(self)}.{module}"), attr)

    def evaluator_class(self) -> type[TaskEvaluator]:
        """The evaluator class (its class attributes: ``metric``, ``harness_version``, ...)."""
        found: type[TaskEvaluator] = self._attr(self.spec.evaluator)
        return found

    def report_hooks(self) -> ReportHooks | None:
        """An instance of the task's report hooks, or None when the task brings none."""
        return None if self.report is None else self._attr(self.report)()

    def make_evaluator(
        self, sandbox: Any, home: Path, limits: Any, **options: Any
    ) -> TaskEvaluator:
        """The task's evaluator on ``sandbox`` (``sandbox.base.Sandbox``; None where a test needs
        none) with its caches under ``home`` and the container ``limits`` (``core.settings.Limits``
        or None for the defaults); ``options`` go to its constructor (a split set, say)."""
        made: TaskEvaluator = self.evaluator_class()(sandbox, home, limits, **options)  # type: ignore[call-arg]
        return made

    def make_generator(self, seed: int) -> Any:
        if self.generator is None:
            raise ConfigError(f"task {self.name!r} has no built-in generator; use the LLM")
        return self._attr(self.generator)(seed)


def _package(plugin: TaskPlugin) -> str:
    """The import name of the plugin's folder (built-in: a sub-package of ``evaluators``)."""
    if plugin.folder.parent == BUILTIN:
        return f"evaluators.{plugin.folder.name}"
    name = f"hypoforge_task_{plugin.name.replace('-', '_')}"
    if name not in sys.modules:
        init = plugin.folder / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(plugin.folder)]
        )
        if spec is None or spec.loader is None or not init.exists():
            raise ConfigError(f"task folder {plugin.folder} needs an __init__.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return name


def read_spec(path: Path) -> TaskSpec:
    """The checked spec in ``path``; a ``ConfigError`` of one line naming the file and the first
    bad key otherwise."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        why = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{path}: {key}: {why}") from None


def _read(folder: Path) -> TaskPlugin:
    return TaskPlugin(spec=read_spec(folder / "task.toml"), folder=folder)


def _folders(env: dict[str, str] | os._Environ[str]) -> list[Path]:
    found = sorted(p.parent for p in BUILTIN.glob("*/task.toml"))
    for entry in filter(None, env.get("HYPOFORGE_TASKS", "").split(os.pathsep)):
        root = Path(entry).expanduser()
        if (root / "task.toml").exists():
            found.append(root)
        else:
            found.extend(sorted(p.parent for p in root.glob("*/task.toml")))
    return found


def tasks(env: dict[str, str] | None = None) -> dict[str, TaskPlugin]:
    """Every task that can be found, by name (the first one found wins a name)."""
    out: dict[str, TaskPlugin] = {}
    for folder in _folders(os.environ if env is None else env):
        plugin = _read(folder)
        out.setdefault(plugin.name, plugin)
    return out


def get(name: str) -> TaskPlugin:
    found = tasks()
    if name not in found:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(found))}")
    return found[name]
