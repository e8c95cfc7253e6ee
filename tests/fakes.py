"""A fake sandbox for unit tests: writes canned output files instead of running anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from evaluators.activation import datasets, runner
from evaluators.activation.harness import draw_probe
from hypoforge.errors import InfraError
from hypoforge.records import Outcome
from sandbox.base import Job, RunResult, Sandbox

SMALL_SPLITS = [datasets.split("iris", 0), datasets.split("wine", 0), datasets.split("moons", 1)]
# Small held-out splits: fresh seeds, a held-out dataset and the deep variant.
CONFIRM_SPLITS = [
    datasets.split("iris", 3),
    datasets.split("checkerboard", 3),
    datasets.split("spirals", 4, deep=True),
]
BY_NAME = {s.name: s for s in SMALL_SPLITS + CONFIRM_SPLITS}


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[labels]


def perfect(split: datasets.Split) -> np.ndarray:
    return one_hot(split.y_test, split.n_classes)


def half_right(split: datasets.Split) -> np.ndarray:
    wrong = (split.y_test + 1) % split.n_classes
    labels = np.where(np.arange(len(split.y_test)) % 2 == 0, split.y_test, wrong)
    return one_hot(labels, split.n_classes)


def write_probe(
    out: Path, name: str, fn: Callable[[np.ndarray], np.ndarray], spec: dict | None = None
) -> None:
    """What the runner's probe writes for ``fn`` (a numpy function) on the job's inputs."""
    spec = spec or draw_probe(np.random.default_rng(0))
    inputs = runner.probe_inputs(spec)
    arrays = {key: fn(x) for key, x in inputs.items()}
    arrays["grad"] = np.where(inputs["y"] > 0, 1.0, 0.0)
    for key, arr in arrays.items():
        np.save(out / f"{name}.probe_{key}.npy", np.asarray(arr).astype(np.float32))


class FakeSandbox(Sandbox):
    """Candidates get ``candidate_logits``; baselines get ``half_right`` logits."""

    def __init__(
        self,
        candidate_logits: Callable[[datasets.Split], np.ndarray] = perfect,
        outcome: Outcome = Outcome.OK,
        probe_fn: Callable[[np.ndarray], np.ndarray] = lambda p: np.maximum(p, 0),
        after: Callable[[Path], None] | None = None,
        preflight_error: InfraError | None = None,
    ) -> None:
        self.candidate_logits = candidate_logits
        self.outcome = outcome
        self.probe_fn = probe_fn
        self.after = after
        self.preflight_error = preflight_error
        self.jobs: list[Job] = []
        self.specs: list[dict] = []  # each job's job.json, as the container would have read it
        self.closed = False

    def preflight(self) -> None:
        if self.preflight_error is not None:
            raise self.preflight_error

    def image_ref(self) -> str:
        return "fake:1@sha256:0123456789abcdef"

    def reap_orphans(self) -> list[str]:
        return []

    def close(self) -> None:
        self.closed = True

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        spec = json.loads((in_dir / "job.json").read_text())
        self.specs.append(spec)
        probe = spec.get("checks", {}).get("probe")
        for name in spec["candidates"]:
            is_candidate = name == "candidate"
            write_probe(job.out_dir, name, self.probe_fn if is_candidate else np.tanh, probe)
            for split_name in spec["splits"]:
                split = BY_NAME[split_name]
                logits = self.candidate_logits(split) if is_candidate else half_right(split)
                np.save(job.out_dir / f"{name}.{split_name}.npy", logits)
        if self.after is not None:
            self.after(job.out_dir)
        return RunResult(
            outcome=self.outcome,
            reason="fake",
            out_dir=job.out_dir,
            image=self.image_ref(),
            log_tail="fake log\n",
        )
