"""Scoring from predictions, on the host: what a job wrote is read through ``sandbox.artifacts``
(bounded, never unpickled) and turned into an outcome and one figure per (dataset, seed) cell.
Nothing a hypothesis prints or writes is read as a score; the labels never left the host."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from core.records import Outcome
from evaluators.kit.splits import Cell, Split, cell
from sandbox.artifacts import ArtifactError, read_json, read_npy

MAX_PREDICTIONS_BYTES = 4 * 1024 * 1024  # one split's predictions (or probe arrays) from a job
MAX_STATUS_BYTES = 64 * 1024


@dataclass(frozen=True)
class Scored:
    outcome: Outcome
    reason: str
    accuracy: dict[Cell, float] = field(default_factory=dict)  # per cell, higher is better
    flags: tuple[str, ...] = ()  # an OK result's caveats (e.g. over a parameter budget)


class Scorer(Protocol):
    """Turns the predictions a job wrote for one hypothesis into per-cell scores."""

    @property
    def metric(self) -> str:
        """What a cell's score is, in words (the report's heatmap label)."""
        ...

    def score(self, out_dir: Path, name: str, splits: list[Split]) -> Scored:
        """``name``'s scores on ``splits`` from the files in ``out_dir``; total: malformed or
        missing files give an outcome with a reason, never an exception."""
        ...


@dataclass(frozen=True)
class LogitsAccuracy:
    """The default scorer: ``<name>.<split>.npy`` holds float logits [n_test, n_classes]; a
    cell's score is the test accuracy of their argmax."""

    metric: str = "test accuracy"

    def score(self, out_dir: Path, name: str, splits: list[Split]) -> Scored:
        accuracy: dict[Cell, float] = {}
        for s in splits:
            try:
                logits = read_npy(out_dir, f"{name}.{s.name}.npy", MAX_PREDICTIONS_BYTES)
            except ArtifactError as exc:
                return Scored(Outcome.INVALID_RESULT, str(exc))
            want = (len(s.y_test), s.n_classes)
            if logits.shape != want or logits.dtype.kind != "f":
                got = f"{logits.dtype}{list(logits.shape)}"
                return Scored(
                    Outcome.INVALID_RESULT, f"{s.name}: logits {got}, expected float{list(want)}"
                )
            if not np.isfinite(logits).all():
                return Scored(Outcome.NONFINITE, f"{s.name}: non-finite predictions")
            accuracy[cell(s.name)] = float((logits.argmax(axis=1) == s.y_test).mean())
        return Scored(Outcome.OK, "", accuracy)


def advisory(out_dir: Path, name: str) -> dict[str, str]:
    """The runner's status for ``name`` (``status.json``): error messages for humans and the
    stage it reached, never scores. Unreadable or malformed: empty."""
    try:
        status = read_json(out_dir, "status.json", MAX_STATUS_BYTES)
        entry = status.get(name, {}) if isinstance(status, dict) else {}
        return {k: str(v)[:1000] for k, v in entry.items()} if isinstance(entry, dict) else {}
    except ArtifactError:
        return {}
