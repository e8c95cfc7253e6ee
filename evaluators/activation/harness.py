"""Host side of the activation task: the kit's sandboxed evaluator (evaluators.kit) plus
the activation's own parts: the static validator, the property probe re-checked on the host, the
probe of a round's hypotheses (one container each), behavioural fingerprints and the grammars
for small models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.errors import InfraError
from core.records import EvalReport, Outcome
from evaluators.activation import runner
from evaluators.activation.validator import check_source
from evaluators.kit import datasets
from evaluators.kit.budgets import Budget, get_budget
from evaluators.kit.files import TaskFiles
from evaluators.kit.jobs import job_checks, sha
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.scoring import MAX_PREDICTIONS_BYTES, advisory
from evaluators.kit.splits import SplitSets
from sandbox.artifacts import ArtifactError, read_npy
from sandbox.base import RunResult

TASK = "activation"
HERE = Path(__file__).parent
BASELINES = ("relu", "gelu", "silu", "tanh")
PROBE_WALL = 60.0  # seconds for one probe job (import torch, probe the hypothesis)
WATCHED_CALLS = 3  # training calls per split where the elementwise check runs


@dataclass(frozen=True)
class Probe:
    """What the probe alone says of a hypothesis: a problem, or its behavioural fingerprint
    (both None when the probe's arrays allow no fingerprint)."""

    problem: str | None
    fingerprint: list[float] | None


class ActivationEvaluator(SandboxedEvaluator):
    """Scores activation-function hypotheses. All untrusted code runs through ``sandbox``."""

    task: ClassVar[str] = TASK
    # The declared version is the one this harness had before the kit existed (the same runner,
    # baselines, data and scoring; tests/unit/evaluators/test_kit_pins.py pins them).
    files: ClassVar[TaskFiles] = TaskFiles(HERE, baselines=BASELINES, version="b59cf7990ffc")
    split_sets: ClassVar[SplitSets] = SplitSets(
        selection=lambda secret: datasets.all_splits(secret=secret),
        confirmation=lambda secret: datasets.confirmation_splits(secret=secret),
        hard=lambda secret: datasets.hard_splits(secret=secret),
    )

    @staticmethod
    def behaviour(report: EvalReport, name: str = "candidate") -> list[float] | None:
        """The behavioural fingerprint from the probe arrays of ``report``'s sandbox run."""
        if not report.artifacts:
            return None
        return drawn_fingerprint(Path(report.artifacts), name)

    validate = staticmethod(check_source)

    def result_extras(self, out_dir: Path, name: str) -> dict[str, Any]:
        """Where training sent ``name``'s pre-activations (``read_reach``), kept with its
        result for the catalogue match and duplicates (``evaluators.fingerprint.reading``)."""
        return {"reach": read_reach(out_dir, name, len(self.splits))}

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """This job's probe inputs and the training calls where the elementwise check runs,
        drawn from host randomness so that no check can be recognised."""
        by_name = {s.name: s for s in self.splits}
        watch = {}
        for split in splits:
            found = by_name.get(split)
            n_train, depth = (len(found.x_train), found.depth) if found else (1, 2)
            calls = depth * -(-n_train // spec.batch_size) * spec.epochs  # a call per layer
            watch[split] = {
                "calls": sorted(int(c) for c in rng.integers(1, calls + 1, size=WATCHED_CALLS)),
                "seed": int(rng.integers(2**31)),
            }
        return {"probe": draw_probe(rng), "watch": watch}

    def probe_many(
        self, sources: dict[str, str], wall_seconds: float = PROBE_WALL, *, together: bool = False
    ) -> dict[str, Probe]:
        """Run only the property probe of each hypothesis, each in a container of its own,
        before any training: a code fault or a behavioural duplicate is then found for the cost
        of one short launch. Advisory: screening probes each hypothesis again on its own.

        ``together`` probes all of ``sources`` in one container: only for trusted code (the
        catalogue's published components, ``graph/literature.py``), never for hypotheses, which
        could then change each other's results.
        """
        spec = get_budget("one-pass")
        self.notify(f"probing {len(sources)} hypotheses in the sandbox")
        groups = [sources] if together else [{n: s} for n, s in sources.items()]
        out: dict[str, Probe] = {}
        for group in groups:
            tag = f"p{sha(''.join(group.values()))[:12]}"
            job = self.make_job(group, spec, tag, n_candidates=len(group), splits=[])
            wall = wall_seconds * len(group)
            job = job.model_copy(
                update={"limits": job.limits.model_copy(update={"wall_seconds": wall})}
            )
            result = self.sandbox.run(job)
            if result.outcome is Outcome.INFRA_ERROR:
                raise InfraError(f"probe job: {result.reason}")
            for name in group:
                out[name] = self._probe_verdict(result, name)
            self.retire(result, keep=any(out[n].fingerprint is not None for n in group))
        return out

    def _probe_verdict(self, result: RunResult, name: str) -> Probe:
        if result.outcome in (Outcome.TIMEOUT, Outcome.OOM, Outcome.DISK_QUOTA):
            return Probe(f"the probe {result.outcome}: {result.reason}", None)
        status = advisory(result.out_dir, name)
        problem = self._problem(result.out_dir, name)
        if problem is None and status.get("stage") in ("load", "probe"):
            problem = status.get("error") or "failed the property check"
        if problem is not None:
            return Probe(problem, None)
        return Probe(None, drawn_fingerprint(result.out_dir, name))

    def _problem(self, out_dir: Path, name: str) -> str | None:
        try:
            spec = job_checks(out_dir)["probe"]
            raw = {
                k: read_npy(out_dir, f"{name}.probe_{k}.npy", MAX_PREDICTIONS_BYTES)
                for k in runner.PROBE_ARRAYS
            }
        except (ArtifactError, KeyError) as exc:
            return f"property check produced no usable arrays: {exc}"
        return runner.check_probe(spec, raw)


def draw_probe(rng: np.random.Generator) -> dict:
    """Probe inputs for one job: the fixed points (first), the fingerprint's points
    (``evaluators.fingerprint.draw_points``), random points on [-20, 20] and random large
    magnitudes, called in a random order, as a 2-D batch of random rows, and a random part."""
    from evaluators.fingerprint import draw_points

    fixed = runner.probe_points()
    dense = draw_points(rng)
    extra = rng.uniform(-runner.GRID_HALF, runner.GRID_HALF, int(rng.integers(60, 240)))
    big = 10.0 ** rng.uniform(1.7, 4.0, 8) * rng.choice([-1.0, 1.0], 8)
    rows = int(rng.integers(2, 7))
    points = np.concatenate([fixed, dense, extra, big]).astype(np.float32)
    points = points[: len(points) // rows * rows]  # the fixed points come first and stay
    n = len(points)
    part = rng.permutation(n)[: int(rng.integers(n // 5, n // 2))]
    return {
        "points": runner.packed(points.astype("<f4")),
        "order": runner.packed(rng.permutation(n).astype("<i4")),
        "rows": rows,
        "part": runner.packed(part.astype("<i4")),
    }


def probe_values(out_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(fixed probe points, the function's values there) from a job's probe output, or None."""
    try:
        spec = job_checks(out_dir)["probe"]
        raw = read_npy(out_dir, f"{name}.probe_y.npy", MAX_PREDICTIONS_BYTES)
    except (ArtifactError, KeyError):
        return None
    try:
        order = runner.unpacked(spec["order"], "<i4").astype(np.int64)
    except (TypeError, ValueError):
        return None
    y = runner._unshuffle(raw, order)
    fixed = runner.probe_points()
    if y is None or y.dtype.kind != "f":
        return None
    return fixed, y[: len(fixed)]


def drawn_fingerprint(out_dir: Path, name: str) -> list[float] | None:
    """The fingerprint of ``name`` from its probe at the points the host drew for this job (all
    but the fixed ones, which a hypothesis knows and could mark), or None: no usable probe
    output, or a job of an earlier version whose few drawn points leave gaps."""
    from evaluators.fingerprint import fingerprint

    try:
        spec = job_checks(out_dir)["probe"]
        raw = read_npy(out_dir, f"{name}.probe_y.npy", MAX_PREDICTIONS_BYTES)
        points = runner.unpacked(spec["points"], "<f4")
        order = runner.unpacked(spec["order"], "<i4").astype(np.int64)
    except (ArtifactError, KeyError, TypeError, ValueError):
        return None
    y = runner._unshuffle(raw, order)
    if y is None or y.dtype.kind != "f" or y.shape != points.shape:
        return None
    fixed = runner.probe_points()
    fp = fingerprint(points[len(fixed) :], y[len(fixed) :], exclude=fixed)
    return None if fp is None else [float(v) for v in fp]


MAX_REACH_BYTES = 1024 * 1024


def read_reach(out_dir: Path, name: str, n_splits: int) -> tuple[float, ...] | None:
    """Per cell of the fingerprint's canonical grid, the largest share of one split's
    pre-activations (training, or the test pass) that fell in it, from the runner's
    ``<name>.reach.npy`` (``runner.Watch.counts``: a row per split trained, slots below,
    per cell, above). Total on untrusted files: anything but ``n_splits`` rows of
    non-negative finite counts, or no count at all, gives None (the whole window is compared)."""
    try:
        raw = read_npy(out_dir, f"{name}.reach.npy", MAX_REACH_BYTES)
        if raw.shape != (n_splits, 2, runner.REACH_SLOTS) or raw.dtype.kind not in "iuf":
            return None
        counts = raw.astype(np.float64)
    except (ArtifactError, OSError, TypeError, ValueError, OverflowError):
        return None  # OSError: read_npy lets one through for a folder of that name
    if n_splits == 0 or not np.isfinite(counts).all() or (counts < 0).any():
        return None
    with np.errstate(over="ignore"):  # counts near the float limit sum to inf: refused below
        totals = counts.sum(axis=2).reshape(-1)
    seen = counts.reshape(-1, runner.REACH_SLOTS)[totals > 0]  # a test pass never reached: none
    if not len(seen) or not np.isfinite(totals).all():
        return None
    shares = (seen / seen.sum(axis=1, keepdims=True))[:, 1:-1].max(axis=0)
    return tuple(round(float(v), 6) for v in shares)
