"""What a sandboxed task measures on: ``Split`` (one (dataset, seed) cell's arrays, the test labels
kept on the host) and ``SplitSets`` (a task's named sets of them, drawn from the installation's
secret)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from evaluators.kit.secrets import DataSecret

Cell = tuple[str, int]  # (dataset, seed): what a score and a win rate are per


@dataclass(frozen=True)
class Split:
    name: str  # "<dataset>-s<seed>"
    x_train: np.ndarray  # float32 [n_train, d], standardised
    y_train: np.ndarray  # int64 [n_train]
    x_test: np.ndarray  # float32 [n_test, d], standardised with training statistics
    y_test: np.ndarray  # int64 [n_test]; never leaves the host
    n_classes: int
    secret_id: str = ""  # the id of the DataSecret the split was drawn from ("": not secret)
    depth: int = 2  # hidden layers of the fixed MLP trained on this split (a deeper variant: more)
    width: int = 0  # their width; 0: the budget's

    def public(self) -> dict[str, np.ndarray]:
        """The arrays a container may see: everything but the test labels (and the network's
        shape, for a split of another than the usual two layers)."""
        arrays = {
            f"{self.name}.x_train": self.x_train,
            f"{self.name}.y_train": self.y_train,
            f"{self.name}.x_test": self.x_test,
            f"{self.name}.n_classes": np.array(self.n_classes, dtype=np.int64),
        }
        if (self.depth, self.width) != (2, 0):
            arrays[f"{self.name}.arch"] = np.array([self.depth, self.width], dtype=np.int64)
        return arrays


def cell(split_name: str) -> Cell:
    """The (dataset, seed) cell of a split named ``<dataset>-s<seed>``."""
    dataset, seed = split_name.rsplit("-s", 1)
    return dataset, int(seed)


Builder = Callable[[DataSecret], list[Split]]


@dataclass(frozen=True)
class SplitSets:
    """A task's named sets of splits, each built from the installation's secret.

    ``selection``: what screening, the ladder and the reward model see (required).
    ``confirmation``: held out from selection (fresh seeds with fresh samples and assignments,
    held-out datasets, a variant of the fixed model); only a kept hypothesis runs there. A task
    without one confirms nothing, so it makes no discoveries.
    ``hard``: where the score does not saturate, for calibration and for campaigns where
    components must matter (``[campaign] splits = "hard"``).

    Builders are called when an evaluator is made; an evaluator given other sets
    (``SandboxedEvaluator(split_sets=...)``) draws from those instead."""

    selection: Builder
    confirmation: Builder | None = None
    hard: Builder | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The sets this task has, in the order they are offered."""
        found = {"selection": self.selection, "confirmation": self.confirmation, "hard": self.hard}
        return tuple(name for name, builder in found.items() if builder is not None)

    def builder(self, name: str, task: str) -> Builder:
        """The builder of set ``name``; a set ``task`` lacks is a ``ConfigError`` that lists those
        it has."""
        found = {"selection": self.selection, "confirmation": self.confirmation, "hard": self.hard}
        builder = found.get(name)
        if builder is None:
            raise ConfigError(
                f"task {task!r} has no split set {name!r}; choose one of: {', '.join(self.names)}"
            )
        return builder
