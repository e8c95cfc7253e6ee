"""Host side of the activation task: the shared sandbox machinery (evaluators.sandboxed) plus
the activation's own parts: the static validator, the property probe re-checked on the host, the
batch probe of a round, behavioural fingerprints and the grammars for small models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from evaluators.activation import runner
from evaluators.activation.budgets import BASELINES, HERE, get_budget
from evaluators.activation.validator import check_source
from evaluators.sandboxed import MAX_LOGITS_BYTES, SandboxedEvaluator, _sha
from hypoforge.errors import InfraError
from hypoforge.records import EvalReport, Outcome
from sandbox.artifacts import ArtifactError, read_npy

TASK = "activation"
PROBE_WALL = 60.0  # seconds for one batch probe job (import torch, probe each hypothesis)


@dataclass(frozen=True)
class Probe:
    """What the probe alone says of a hypothesis: a problem, or its behavioural fingerprint
    (both None when the probe job gave no verdict)."""

    problem: str | None
    fingerprint: list[float] | None


class ActivationEvaluator(SandboxedEvaluator):
    """Scores activation-function hypotheses. All untrusted code runs through ``sandbox``."""

    task: ClassVar[str] = TASK
    folder: ClassVar[Path] = HERE
    baseline_names: ClassVar[tuple[str, ...]] = BASELINES
    version_files: ClassVar[tuple[str, ...]] = ("runner.py", "harness.py")

    @staticmethod
    def behaviour(report: EvalReport, name: str = "candidate") -> list[float] | None:
        """The behavioural fingerprint from the probe arrays of ``report``'s sandbox run
        (``name``: the hypothesis's name in a batch of ``evaluate_many``)."""
        if not report.artifacts:
            return None
        try:
            y = read_npy(Path(report.artifacts), f"{name}.probe_y.npy", MAX_LOGITS_BYTES)
        except ArtifactError:
            return None
        return _fingerprint(y)

    validate = staticmethod(check_source)

    def probe_many(
        self, sources: dict[str, str], wall_seconds: float = PROBE_WALL
    ) -> dict[str, Probe]:
        """Run only the property probe of several hypotheses, in one container, before any
        training: a code fault or a behavioural duplicate is then found for the cost of one
        launch per round. Advisory: screening probes each hypothesis again on its own.
        """
        spec = get_budget("one-pass")
        tag = f"p{_sha(''.join(sorted(map(_sha, sources.values()))))[:12]}"
        job = self.make_job(sources, spec, tag, n_candidates=len(sources), splits=[])
        job = job.model_copy(
            update={"limits": job.limits.model_copy(update={"wall_seconds": wall_seconds})}
        )
        self.notify(f"probing {len(sources)} hypotheses in the sandbox")
        result = self.sandbox.run(job)
        if result.outcome is Outcome.INFRA_ERROR:
            raise InfraError(f"probe job: {result.reason}")
        out: dict[str, Probe] = {}
        for name in sources:
            if result.outcome in (Outcome.TIMEOUT, Outcome.OOM, Outcome.DISK_QUOTA):
                out[name] = Probe(None, None)  # one of them spoiled the batch: no verdict
                continue
            advisory = self._advisory(result.out_dir, name)
            problem = self._problem(result.out_dir, name)
            if problem is None and advisory.get("stage") in ("load", "probe"):
                problem = advisory.get("error") or "failed the property check"
            if problem is not None:
                out[name] = Probe(problem, None)
                continue
            y = read_npy(result.out_dir, f"{name}.probe_y.npy", MAX_LOGITS_BYTES)
            out[name] = Probe(None, _fingerprint(y))
        return out

    def _problem(self, out_dir: Path, name: str) -> str | None:
        try:
            arrays = {
                k: read_npy(out_dir, f"{name}.probe_{k}.npy", MAX_LOGITS_BYTES)
                for k in runner.PROBE_ARRAYS
            }
        except ArtifactError as exc:
            return f"property check produced no usable arrays: {exc}"
        return runner.check_probe(runner.probe_points(), **arrays)


def _fingerprint(y: np.ndarray) -> list[float] | None:
    from evaluators.fingerprint import fingerprint

    points = runner.probe_points()
    if y.shape != points.shape or y.dtype.kind != "f" or not np.isfinite(y).all():
        return None
    return [float(v) for v in fingerprint(points, y)]
