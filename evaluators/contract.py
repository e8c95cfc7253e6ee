"""What a task adds to the campaign report (``hypoforge.report``): its own figures.

The generic report is task-neutral: the progress plot, the leaders table, the per-dataset heatmap
(from ``EvalReport.per_dataset``, labelled with the evaluator class's ``metric``), confirmation,
fidelity, the decisions and the findings. Anything that knows what a hypothesis *is* (an
activation's curve, a training run's accuracy over checkpoints) comes from the task, as hooks its
``task.toml`` names (``report = "report:MyReport"``: module in the task folder : class, built with
no arguments; see ``evaluators.registry``). The object provides ``figures`` (see
``ReportHooks``). A task without them gets the generic report only. The hooks live outside the
harness files, so adding or changing them leaves the harness version (and every score) alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ConfigError
from core.records import EvalReport, HypothesisRow

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
