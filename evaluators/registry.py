"""Research tasks are plugins: a folder with a ``task.toml`` spec, a fixed harness, baselines,
notes for the agents and optional prompt overrides. Adding one needs no change outside its folder.

``task.toml``::

    name = "activation"
    summary = "one line for `hypoforge tasks list`"
    slot = "activation(x: Tensor) -> Tensor"     # what a hypothesis defines
    evaluator = "harness:ActivationEvaluator"     # module in the folder : class
    generator = "search:SearchGenerator"          # optional non-LLM proposer
    report = "report:ActivationReport"            # optional figures for the campaign report

The evaluator class is built as ``cls(sandbox, home, limits, notify=...)`` and must provide
``description``, ``evaluate``, ``experiment_key``, ``static_problem`` and ``behaviour`` (see
``graph.deps.TaskEvaluator``); ``probe_many``, ``confirmer``, ``grammars`` and ``metric`` are
optional capabilities (``graph.deps``).

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
from typing import Any

from core.errors import ConfigError

BUILTIN = Path(__file__).parent
REQUIRED = ("name", "summary", "slot", "evaluator")


@dataclass(frozen=True)
class TaskPlugin:
    name: str
    folder: Path
    summary: str
    slot: str
    evaluator: str
    generator: str | None = None
    report: str | None = None  # "module:name" of the task's report hooks (evaluators.contract)

    @property
    def function(self) -> str:
        """The name a hypothesis defines, from the slot: ``f(x: float) -> float`` -> ``f``."""
        return self.slot.split("(", 1)[0].strip()

    def _attr(self, ref: str) -> Any:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(f"{_package(self)}.{module}"), attr)

    def evaluator_class(self) -> Any:
        """The evaluator class (its class attributes: ``metric``, ``harness_version``, ...)."""
        return self._attr(self.evaluator)

    def report_hooks(self) -> Any:
        """An instance of the task's report hooks, or None when the task brings none."""
        return None if self.report is None else self._attr(self.report)()

    def make_evaluator(self, sandbox: Any, home: Path, limits: Any, **options: Any) -> Any:
        return self._attr(self.evaluator)(sandbox, home, limits, **options)

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


def _read(folder: Path) -> TaskPlugin:
    path = folder / "task.toml"
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    missing = [k for k in REQUIRED if not isinstance(spec.get(k), str)]
    if missing:
        raise ConfigError(f"{path}: missing or not text: {', '.join(missing)}")
    unknown = set(spec) - {*REQUIRED, "generator", "report"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys: {', '.join(sorted(unknown))}")
    return TaskPlugin(folder=folder, **spec)


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
