"""``TemplateEvaluator``: the evaluator of every template task, built from the kit and bound to
a task folder (``TemplateEvaluator.bind``; ``evaluators.registry`` binds it for a ``task.toml``
with ``kind = "template"``).

Flow for one hypothesis (SEARCH/REPLACE edits to the folder's script): the static check
(``check.Template``) -> the edited script in one sandbox job (``runner.py``, with ``fixed.py``
mounted as ``template_fixed``) on the splits the folder's data module drew from the secret (only
their inputs) -> the metric per cell on the host against targets that never left it
(``metrics``) -> the task's ``extra_checks`` -> the bigger-model flag against the unedited
template's parameter count (from the template's own baseline run, cached beside the baselines)
-> win rate against the template.

A task may subclass it (``harness.py``, named by ``evaluator = "harness:MyEvaluator"``) to add
host checks (``extra_checks``) or read more predictions arrays (``extra_reads``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from core.errors import InfraError
from core.records import Outcome
from evaluators.edits import blocks
from evaluators.kit import baselines as baseline_cache
from evaluators.kit.budgets import Budget, get_budget
from evaluators.kit.files import KIT, RUNNER_LOOP, SCORING_MODULES, TaskFiles
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.scoring import MAX_PREDICTIONS_BYTES, Scored
from evaluators.kit.splits import Cell, cell
from evaluators.template.check import Template
from evaluators.template.data import TemplateSplit
from evaluators.template.folder import load_data_module, load_template, split_sets
from evaluators.template.metrics import METRICS, Bad, Metric
from evaluators.template.spec import TemplateSpec
from sandbox.artifacts import ArtifactError, read_npy
from sandbox.base import Job, Mount, RunResult

HERE = Path(__file__).parent
RUNNER = HERE / "runner.py"
FIXED = HERE / "fixed.py"
WATCHED_STEPS = 16  # training steps per split where the fixed part's Watch compares everything
BASELINE = "template"  # the unedited template: the one baseline
PARAMS_BUDGET = "params"  # the cache of the template's parameter counts, beside the baselines
_LOCK = threading.RLock()  # the first thread computes the baseline run; the others wait
_RUNG = threading.local()  # the rung of the job this thread last made


@dataclass(frozen=True)
class TemplateFiles(TaskFiles):
    """A template task's files: the one baseline is the unedited template
    (``baselines/template.edits`` if the folder has it, else no edits)."""

    def baseline_source(self, name: str) -> str:
        path = self.folder / "baselines" / f"{name}{self.baseline_suffix}"
        return path.read_text() if path.exists() or name != BASELINE else ""


@dataclass(frozen=True)
class MetricScorer:
    """Reads ``<name>.<split>.<reads>.npy`` per split and scores it with the metric against the
    split's targets; checks ``<name>.params.npy`` (one count per split)."""

    of: Metric

    @property
    def metric(self) -> str:
        return self.of.label

    def score(self, out_dir: Path, name: str, splits: list[Any]) -> Scored:
        scores: dict[Cell, float] = {}
        for s in splits:
            try:
                array = read_npy(
                    out_dir, f"{name}.{s.name}.{self.of.reads}.npy", MAX_PREDICTIONS_BYTES
                )
            except ArtifactError as exc:
                return Scored(Outcome.INVALID_RESULT, str(exc))
            value = self.of.score(array, s.targets.get(self.of.against))
            if isinstance(value, Bad):
                outcome = Outcome.NONFINITE if value.nonfinite else Outcome.INVALID_RESULT
                return Scored(outcome, f"{s.name}: {value.reason}")
            scores[cell(s.name)] = value
        counts = parameter_counts(out_dir, name, len(splits))
        if isinstance(counts, str):
            return Scored(Outcome.INVALID_RESULT, counts)
        return Scored(Outcome.OK, "", scores)


def parameter_counts(out_dir: Path, name: str, n: int) -> list[int] | str:
    """The counts ``<name>.params.npy`` holds (one non-negative int per split), or why not."""
    try:
        counts = read_npy(out_dir, f"{name}.params.npy", 4096)
    except ArtifactError as exc:
        return str(exc)
    if counts.shape != (n,) or counts.dtype.kind not in "iu" or (counts < 0).any():
        return "malformed parameter counts"
    return [int(c) for c in counts]


class TemplateEvaluator(SandboxedEvaluator):
    """Scores SEARCH/REPLACE edits to a template task's script (see the module docstring).
    Unbound (no folder) it is a base to subclass; ``bind(folder, ...)`` gives the task's class."""

    spec: ClassVar[TemplateSpec]
    template: ClassVar[Template]
    of: ClassVar[Metric]
    extra_reads: ClassVar[tuple[str, ...]] = ()  # predictions arrays extra_checks reads

    # -- binding to a folder -----------------------------------------------------------------
    @classmethod
    def bind(cls, folder: Path, name: str, spec: TemplateSpec) -> type[TemplateEvaluator]:
        """This class bound to the template task in ``folder`` (named ``name``, its
        ``[template]`` table ``spec``): its script checked, its data module loaded on the host.
        A problem with the folder is a one-line ``ConfigError`` naming the file."""
        folder = Path(folder).resolve()
        template = load_template(folder, spec)
        module = load_data_module(folder, name, spec)
        metric = METRICS[spec.metric]
        attrs = {
            "task": name,
            "spec": spec,
            "template": template,
            "of": metric,
            "files": TemplateFiles(
                folder,
                baselines=(BASELINE,),
                baseline_suffix=".edits",
                extra_code={"template_fixed.py": FIXED},
                version=spec.version,
            ),
            "split_sets": split_sets(module, folder / spec.data, metric),
            "scorer": MetricScorer(metric),
            "validate": staticmethod(template.check_edits),
            "__module__": cls.__module__,
        }
        return type(cls.__name__, (cls,), attrs)

    @classmethod
    def harness_version(cls) -> str:
        """The declared version, else 12 hex digits of a hash of the script, the data module,
        the ``[template]`` table, the kind's runner, fixed part, metrics and evaluator, the
        task's harness.py, the runner loop, the kit's scoring modules and the baseline."""
        if cls.spec.version is not None:
            return cls.spec.version
        folder = cls.files.folder
        h = hashlib.sha256(json.dumps(cls.spec.model_dump(), sort_keys=True).encode())
        paths = [
            folder / cls.spec.script,
            folder / cls.spec.data,
            *([folder / "harness.py"] if (folder / "harness.py").exists() else []),
            RUNNER,
            FIXED,
            HERE / "metrics.py",
            HERE / "evaluator.py",
            RUNNER_LOOP,
            *(KIT / n for n in SCORING_MODULES),
        ]
        for path in paths:
            h.update(path.read_bytes())
        h.update(cls.files.baseline_source(BASELINE).encode())
        return h.hexdigest()[:12]

    # -- the kit's hooks ---------------------------------------------------------------------
    @property
    def description(self) -> str:
        """description.md, notes.md (if any) and the script's editable blocks."""
        folder = self.files.folder
        parts = [(folder / "description.md").read_text().strip()]
        if (folder / "notes.md").exists():
            parts.append((folder / "notes.md").read_text().strip())
        editable = "\n".join(
            f"# >>> EDIT {b.name}\n{b.body}# <<< EDIT {b.name}" for b in blocks(self.template.text)
        )
        parts.append(f"The editable blocks of {self.spec.script}:\n```python\n{editable}\n```")
        return "\n\n".join(parts)

    def runnable(self, source: str) -> str:
        """The container gets the edited script, never the edits to apply itself."""
        return self.template.edited(source)

    def train_config(self, spec: Budget) -> dict:
        """The rung's table (the script's ``rung``) and the modules the script may import."""
        return {"rung": self.spec.rung(spec.name).table(), "modules": list(self.spec.modules)}

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """Per split: ``WATCHED_STEPS`` training steps in [0, the rung's ``steps``) where the
        fixed part's Watch compares everything (none for a rung without an integer ``steps``)."""
        steps = self.spec.rung(spec.name).table().get("steps")
        checks = {}
        for split in splits:
            if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0:
                drawn = rng.integers(0, steps, size=WATCHED_STEPS)
                checks[split] = {"steps": sorted({int(v) for v in drawn})}
            else:
                checks[split] = {"steps": []}
        return checks

    def make_job(
        self,
        sources: dict[str, str],
        spec: Budget,
        tag: str,
        n_candidates: int = 1,
        splits: list[str] | None = None,
    ) -> Job:
        """The kit's job, with the rung's wall clock and the kind's runner."""
        _RUNG.name = spec.name  # the rung this thread's job runs (``template_counts``)
        spec = replace(spec, wall_seconds=self.spec.rung(spec.name).wall_seconds)
        job = super().make_job(sources, spec, tag, n_candidates, splits)
        mounts = [
            Mount(source=RUNNER, target=m.target) if m.target == "/hf/code/runner.py" else m
            for m in job.mounts
        ]
        return job.model_copy(update={"mounts": mounts})

    def extra_checks(
        self, predictions: dict[str, np.ndarray], split: TemplateSplit
    ) -> tuple[str | None, tuple[str, ...]]:
        """A task's own host checks of one split's predictions (the metric's array and
        ``extra_reads``, already read): a refusal reason (the result is invalid) or None, and
        flags (a flagged result is never kept). None here."""
        return None, ()

    # -- scoring -----------------------------------------------------------------------------
    def score_output(self, result: RunResult, name: str) -> Scored:
        """The kit's scores, then the task's extra checks and the bigger-model flag."""
        scored = super().score_output(result, name)
        if scored.outcome is not Outcome.OK:
            return scored
        try:
            return self._checked(result.out_dir, name, scored)
        except (ValueError, TypeError, IndexError, ArithmeticError, KeyError) as exc:
            why = f"its output could not be checked: {type(exc).__name__}: {str(exc)[:300]}"
            return Scored(Outcome.INVALID_RESULT, why)

    def _checked(self, out_dir: Path, name: str, scored: Scored) -> Scored:
        flags = list(scored.flags)
        for s in cast(list[TemplateSplit], self.splits):
            predictions: dict[str, np.ndarray] = {}
            for key in dict.fromkeys((self.of.reads, *self.extra_reads)):
                try:
                    predictions[key] = read_npy(
                        out_dir, f"{name}.{s.name}.{key}.npy", MAX_PREDICTIONS_BYTES
                    )
                except ArtifactError as exc:
                    return Scored(Outcome.INVALID_RESULT, str(exc))
            refusal, more = self.extra_checks(predictions, s)
            if refusal is not None:
                return Scored(Outcome.INVALID, f"{s.name}: {refusal}")
            flags.extend(more)
        counts = parameter_counts(out_dir, name, len(self.splits))
        if isinstance(counts, str):
            return Scored(Outcome.INVALID_RESULT, counts)
        template = self.template_counts()
        ratio = max(n / max(template[s.name], 1) for n, s in zip(counts, self.splits, strict=True))
        if ratio > self.spec.parameter_budget:
            flags.append(
                f"bigger model: {ratio:.2f}x the template's parameters "
                f"(budget {self.spec.parameter_budget:.2f}x); a win here is not a discovery"
            )
        return Scored(Outcome.OK, "", scored.accuracy, flags=tuple(flags))

    # -- the baseline and the template's size --------------------------------------------------
    def _params_path(self) -> Path:
        return self.cache_file(PARAMS_BUDGET)

    def template_counts(self) -> dict[str, int]:
        """The unedited template's parameter count per split, from its baseline run (cached
        beside the baselines; when missing, computed with the baseline of the rung this thread
        is scoring, which the win rate needs next anyway)."""
        with _LOCK:
            counts = _load_counts(self._params_path())
            if counts is None or any(s.name not in counts for s in self.splits):
                rung = getattr(_RUNG, "name", "one-pass")
                self.baselines(get_budget(rung), refresh_counts=True)
                counts = _load_counts(self._params_path())
            if counts is None:
                raise InfraError("the template's parameter counts could not be recorded")
            return counts

    def baselines(self, spec: Budget, refresh_counts: bool = False) -> dict[str, dict[Cell, float]]:
        """The template's scores at ``spec``, computed once per harness, splits, budget and
        image; the same run records the template's parameter counts."""
        with _LOCK:
            cache = self.cache_file(spec.name)
            found = baseline_cache.load(cache)
            params = self._params_path()
            if found is not None and not (refresh_counts and _load_counts(params) is None):
                return found
            self.notify("computing the template's baseline (cached afterwards)")
            source = self.files.baseline_source(BASELINE)
            job = self.make_job({BASELINE: source}, spec, f"b{self.version}")
            result = self.sandbox.run(job)
            scored = SandboxedEvaluator.score_output(self, result, BASELINE)
            if scored.outcome is not Outcome.OK:
                raise InfraError(f"baseline {BASELINE} failed ({scored.outcome}): {scored.reason}")
            counts = parameter_counts(result.out_dir, BASELINE, len(self.splits))
            if isinstance(counts, str):
                raise InfraError(f"baseline {BASELINE}: {counts}")
            _save_counts(params, {s.name: n for s, n in zip(self.splits, counts, strict=True)})
            self.retire(result, keep=False)
            out = {BASELINE: scored.accuracy}
            baseline_cache.save(cache, out)
            return out


def _load_counts(path: Path) -> dict[str, int] | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
        return None
    return {str(k): int(v) for k, v in raw.items()}


def _save_counts(path: Path, counts: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(counts, indent=1))
    tmp.replace(path)
