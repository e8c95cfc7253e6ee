"""The training budgets every sandboxed task shares: the ladder's rungs, by name.

A task reads what it needs from a ``Budget`` (``SandboxedEvaluator.train_config``): the tabular
tasks train for ``epochs`` at ``lr``; grokking scales its steps by the rung's name."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    name: str
    epochs: int
    lr: float
    wall_seconds: float  # for one candidate; a baseline run gets one of these per baseline
    batch_size: int = 32
    hidden: int = 64

    def train_config(self) -> dict:
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "hidden": self.hidden,
        }


BUDGETS = {
    "one-pass": Budget("one-pass", epochs=1, lr=0.01, wall_seconds=120),
    # The ladder's middle rung: long enough to leave the first epoch's race behind (see README,
    # "How far screening can be trusted"), a sixth of the full budget's cost.
    "short": Budget("short", epochs=5, lr=0.005, wall_seconds=300),
    "full": Budget("full", epochs=30, lr=0.005, wall_seconds=900),
}


def get_budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r}; choose one of: {', '.join(BUDGETS)}")
    return BUDGETS[name]
