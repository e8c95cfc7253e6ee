"""Research tasks are plugins: a folder with a ``task.toml`` spec, a fixed harness, baselines,
notes for the agents and optional prompt overrides. Adding one needs no change outside its folder.

``task.toml``::

    name = "activation"
    summary = "one line for `hypoforge tasks list`"
    slot = "activation(x: Tensor) -> Tensor"     # what a hypothesis defines
    evaluator = "harness:ActivationEvaluator"     # module in the folder : class
    generator = "search:SearchGenerator"          # optional non-LLM proposer
    report = "report:ActivationReport"            # optional figures for the campaign report
    kind = "plugin"                               # or "template" (below); default "plugin"

A ``kind = "template"`` task (``evaluators.template``) holds its training script, a data module
and a ``[template]`` table (``evaluators.template.spec``) instead of an evaluator of its own;
``evaluator`` is then optional (default: the kind's ``TemplateEvaluator``; a task's subclass of
it, for extra host checks, when given) and the class is bound to the folder.

Each key is checked (``TaskSpec``): an unknown key or a bad value is a ``ConfigError`` naming the
file and the key. The evaluator class is built as ``cls(sandbox, home, limits, **options)`` and
keeps the plugin contract, ``evaluators.contract.TaskEvaluator`` (required members, optional
capabilities, report hooks). ``examples/tasks/curvefit`` is a complete small task to start from.

Where tasks are found: every folder beside this file that holds a ``task.toml`` (the built-in
tasks), then each folder named in ``HYPOFORGE_TASKS`` (``os.pathsep``-separated; a task folder, or
a folder of task folders). ``get`` also takes a path to a task folder (``./my-task``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError
from evaluators.contract import ReportHooks, TaskEvaluator
from evaluators.template.spec import TemplateSpec

BUILTIN = Path(__file__).parent
Ref = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]  # "module:attribute"


class TaskSpec(BaseModel):
    """A ``task.toml``, checked: every key known, every value of its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    summary: Annotated[str, Field(min_length=1)]
    slot: Annotated[str, Field(pattern=r"^[A-Za-z_]\w*\(.*\)")]  # "f(x: float) -> float"
    kind: Literal["plugin", "template"] = "plugin"
    evaluator: Ref | None = None  # required for a plugin; a template's default: the kind's own
    generator: Ref | None = None  # a non-LLM proposer, built as cls(seed)
    report: Ref | None = None  # the task's report hooks (``evaluators.contract.ReportHooks``)
    template: TemplateSpec | None = None  # the [template] table of a kind = "template" task

    @model_validator(mode="after")
    def _kind(self) -> TaskSpec:
        if self.kind == "plugin" and self.evaluator is None:
            raise ValueError("a plugin task names its evaluator (evaluator = 'module:Class')")
        if self.kind == "plugin" and self.template is not None:
            raise ValueError("a [template] table needs kind = 'template'")
        if self.kind == "template" and self.template is None:
            raise ValueError("kind = 'template' needs a [template] table")
        return self


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
    def kind(self) -> str:
        return self.spec.kind

    @property
    def function(self) -> str:
        """The name a hypothesis defines, from the slot: ``f(x: float) -> float`` -> ``f``."""
        return self.slot.split("(", 1)[0].strip()

    def _attr(self, ref: str) -> Any:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(f"{_package(self)}.{module}"), attr)

    def evaluator_class(self) -> type[TaskEvaluator]:
        """The evaluator class (its class attributes: ``metric``, ``harness_version``, ...); a
        template task's bound to its folder."""
        if self.spec.kind == "template":
            base = None if self.spec.evaluator is None else self._attr(self.spec.evaluator)
            return _bound(self.folder, base)
        assert self.spec.evaluator is not None  # TaskSpec checks it for a plugin
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


@cache
def _bound(folder: Path, base: type | None) -> type[TaskEvaluator]:
    """The template task in ``folder`` bound to ``base`` (a subclass of ``TemplateEvaluator``;
    None: the kind's own), once per folder, so that its class and its data stay one."""
    from evaluators.template.evaluator import TemplateEvaluator

    plugin = _read(folder)
    cls = TemplateEvaluator if base is None else base
    if not (isinstance(cls, type) and issubclass(cls, TemplateEvaluator)):
        raise ConfigError(
            f"{folder / 'task.toml'}: evaluator: {plugin.spec.evaluator} is not a subclass of "
            "evaluators.template.TemplateEvaluator"
        )
    assert plugin.spec.template is not None  # TaskSpec checks it for a template
    bound: Any = cls.bind(folder, plugin.name, plugin.spec.template)
    return bound


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
        why = why.removeprefix("Value error, ")
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
    """The task named ``name``, or the task in the folder ``name`` (a path: it holds a
    separator or starts with '.' or '~', or no task has that name and the folder has a
    task.toml)."""
    pathlike = os.sep in name or "/" in name or name.startswith((".", "~"))
    found = {} if pathlike else tasks()
    if name in found:
        return found[name]
    folder = Path(name).expanduser()
    if (folder / "task.toml").is_file():
        return _read(folder.resolve())
    if pathlike:
        raise ConfigError(f"{folder}: no task.toml in this folder")
    raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(found))}")
