"""Loading a template task's folder on the host: its script as a checked ``Template``, its data
module (trusted, the task's own code) and the split sets it draws. Every problem is a one-line
``ConfigError`` naming the file."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from core.errors import ConfigError
from evaluators.edits import blocks, fixed_regions
from evaluators.kit.splits import SplitSets
from evaluators.static_check import StaticCheckError
from evaluators.template.check import Template
from evaluators.template.data import TemplateSplit
from evaluators.template.metrics import Metric
from evaluators.template.spec import TemplateSpec


def load_template(folder: Path, spec: TemplateSpec) -> Template:
    """The folder's script as a ``Template``, checked: it has blocks, the required ones, a fixed
    ``train_and_predict``, and the unedited blocks keep the rules. ``ConfigError`` otherwise."""
    path = folder / spec.script
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the script: {exc}") from None
    template = Template(
        text,
        filename=spec.script,
        required=dict(spec.required),
        model_blocks=frozenset(spec.model_blocks),
        optimizer_blocks=frozenset(spec.optimizer_blocks),
    )
    try:
        names = [b.name for b in blocks(text)]
        fixed = template.fixed_names
    except StaticCheckError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except SyntaxError as exc:
        raise ConfigError(f"{path}: the fixed part is not valid Python: {exc.msg}") from None
    if not names:
        raise ConfigError(
            f"{path}: no editable blocks ('# >>> EDIT <name>' ... '# <<< EDIT <name>')"
        )
    missing = sorted(set(spec.required) - set(names))
    if missing:
        raise ConfigError(
            f"{path}: template.required names block(s) {', '.join(missing)}, which the script "
            f"lacks (its blocks: {', '.join(names)})"
        )
    if "train_and_predict" not in fixed or not _defines(text, "train_and_predict"):
        raise ConfigError(
            f"{path}: the fixed part defines no train_and_predict(inputs, rung, seed, checks)"
        )
    try:
        template.check_script(text)
    except StaticCheckError as exc:
        raise ConfigError(f"{path}: the unedited blocks break the rules: {exc}") from None
    return template


def _defines(text: str, name: str) -> bool:
    """Whether the fixed part defines a function ``name`` at module level."""
    for region in fixed_regions(text):
        for node in ast.parse(region).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return True
    return False


def load_data_module(folder: Path, name: str, spec: TemplateSpec) -> ModuleType:
    """The folder's data module, imported on the host (trusted: the task's own code)."""
    path = folder / spec.data
    key = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    module_name = f"hypoforge_template_data_{name.replace('-', '_')}_{key}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    found = importlib.util.spec_from_file_location(module_name, path)
    if found is None or found.loader is None or not path.exists():
        raise ConfigError(f"{path}: no data module")
    module = importlib.util.module_from_spec(found)
    sys.modules[module_name] = module  # before it runs: dataclasses look their module up
    try:
        found.loader.exec_module(module)
        if not callable(getattr(module, "selection", None)):
            raise ConfigError(f"{path}: defines no selection(secret) -> list[TemplateSplit]")
    except ConfigError:
        del sys.modules[module_name]
        raise
    except Exception as exc:  # the task's own code: any failure is a problem with the folder
        del sys.modules[module_name]
        raise ConfigError(f"{path}: cannot load: {type(exc).__name__}: {exc}") from None
    return module


def split_sets(module: ModuleType, path: Path, metric: Metric) -> SplitSets:
    """The data module's selection, confirmation and hard sets, each checked when drawn."""

    def builder(set_name: str) -> Any:
        fn = getattr(module, set_name, None)
        if fn is None:
            return None

        def draw(secret: Any) -> list[TemplateSplit]:
            return checked_splits(fn(secret), f"{path}: {set_name}()", metric)

        return draw

    return SplitSets(
        selection=builder("selection"),
        confirmation=builder("confirmation"),
        hard=builder("hard"),
    )


def checked_splits(found: object, where: str, metric: Metric) -> list[TemplateSplit]:
    """``found`` if it is a non-empty list of ``TemplateSplit`` with unique names, each holding
    the metric's target array; ``ConfigError`` naming ``where`` otherwise."""
    if not isinstance(found, list) or not found:
        raise ConfigError(f"{where} must return a non-empty list of TemplateSplit")
    for s in found:
        if not isinstance(s, TemplateSplit):
            raise ConfigError(f"{where} returned a {type(s).__name__}, not a TemplateSplit")
        if metric.against not in s.targets:
            want = f"target {metric.against!r} for the metric {metric.name}"
            raise ConfigError(f"{where}: split {s.name} has no {want}")
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: split names repeat")
    return found
