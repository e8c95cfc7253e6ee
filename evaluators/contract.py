"""The plugin contract: what a task's evaluator is, what it may add, and its report hooks. One
module for a plugin author to read; ``evaluators.registry`` builds a task from its ``task.toml``,
``graph.deps`` and the report consume what is declared here.

Required (``TaskEvaluator``): ``description`` (the task in words, for the agents' prompts),
``evaluate(source, budget)`` -> ``EvalReport`` (every number computed on the host),
``experiment_key(source, budget)`` (same key, same result: exactly-once launches),
``static_problem(source)`` (why the static check refuses the code, or None) and
``behaviour(report)`` (a behavioural fingerprint, or None).

Optional capabilities, each a protocol of its own checked with ``isinstance`` (never by probing
attributes): ``Probes`` (a property probe before any training, for fingerprints and early code
faults), ``Confirms`` (held-out splits to confirm kept hypotheses on; without them, no
discoveries) and ``Grammars`` (GBNF grammars for small models). What a cell's score is called is
the class attribute ``metric`` (``metric_of``; default "test accuracy").

A sandboxed task gets all of this from ``evaluators.kit.sandboxed.SandboxedEvaluator``; a task that
scores some other way implements the protocol itself (``examples/tasks/curvefit``).

Report hooks: the generic report is task-neutral (the progress plot, the leaders table, the
per-dataset heatmap from ``EvalReport.per_dataset``, confirmation, fidelity, the decisions and the
findings). Anything that knows what a hypothesis *is* (an activation's curve, a training run's
accuracy over checkpoints) comes from the task, as hooks its ``task.toml`` names (``report =
"report:MyReport"``: module in the task folder : class, built with no arguments) providing
``figures`` (``ReportHooks``). The hooks live outside the harness files, so adding or changing
them leaves the harness version (and every score) alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ConfigError
from core.records import EvalReport, HypothesisRow


class TaskEvaluator(Protocol):
    """What every task's evaluator provides (``evaluators.registry`` builds it)."""

    description: str

    def evaluate(self, source: str, budget: str = ...) -> EvalReport: ...
    def experiment_key(self, source: str, budget: str) -> str: ...
    def static_problem(self, source: str) -> str | None: ...
    def behaviour(self, report: EvalReport) -> list[float] | None: ...


@runtime_checkable
class Probes(Protocol):
    """A property probe per hypothesis, one container each: ``{name: Probe(problem,
    fingerprint)}`` (``evaluators.activation.harness.Probe``). ``together`` puts all in one
    container: for trusted code only (the catalogue's published components), never hypotheses."""

    def probe_many(self, sources: dict[str, str], *, together: bool = False) -> dict[str, Any]: ...


@runtime_checkable
class Confirms(Protocol):
    """The same evaluator on the task's held-out confirmation splits, or None (none here)."""

    def confirmer(self) -> TaskEvaluator | None: ...


@runtime_checkable
class Grammars(Protocol):
    """GBNF grammars by role (``proposer``, ``coder``) that keep a small model's code valid."""

    def grammars(self) -> dict[str, str]: ...


Figure = tuple[str, str]  # (file name written into the report folder, Markdown caption)


@runtime_checkable
class ReportHooks(Protocol):
    """A task's part of the report."""

    def figures(
        self,
        out_dir: Path,
        leaders: list[HypothesisRow],
        reports: dict[str, EvalReport],
        home: Path | None = None,
    ) -> list[Figure]:
        """Write the task's figures into ``out_dir`` for the ``leaders`` (best first; each one's
        selection report in ``reports`` by hypothesis id) and return them as (file name,
        caption), in the order they go in the report; none when there is nothing to plot.
        ``home``: the installation (data secret, kept attempt folders), None when unknown.
        Artifacts the sandbox wrote are untrusted: read them with ``sandbox.artifacts``."""
        ...


@runtime_checkable
class ProbeCurves(Protocol):
    """Report hooks that also draw one hypothesis's probe curve beside the baselines' (the
    dashboard's hypothesis page)."""

    def probe_curves(self, report: EvalReport) -> dict[str, list[tuple[float, float]]] | None:
        """{"hypothesis": points, baseline name: points} from the probe arrays of ``report``'s
        run (untrusted: read with ``sandbox.artifacts``); None when there is none to draw.
        Never raises."""
        ...


def hooks_for(plugin: Any) -> ReportHooks | None:
    """The report hooks of a task plugin (``evaluators.registry.TaskPlugin``), or None."""
    try:
        found = plugin.report_hooks()
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"task {plugin.name!r}: report = {plugin.report!r}: {exc}") from None
    if found is None:
        return None
    if not isinstance(found, ReportHooks):
        raise ConfigError(f"task {plugin.name!r}: report hooks {found!r} have no figures()")
    return found


def metric_of(evaluator: Any) -> str:
    """What a cell's score is, in words: the evaluator's ``metric``, else test accuracy."""
    metric = getattr(evaluator, "metric", None)  # a class attribute: class or instance alike
    return metric if isinstance(metric, str) and metric else "test accuracy"
