"""The training budgets of the activation task and the version of everything that defines a
score (a result is only reused under the same version)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hypoforge.errors import ConfigError

HERE = Path(__file__).parent
BASELINES = ("relu", "gelu", "silu", "tanh")


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
    "full": Budget("full", epochs=30, lr=0.005, wall_seconds=900),
}


def harness_version() -> str:
    """Hash of everything that defines a score: the runner, the data, this file, the budgets."""
    h = hashlib.sha256()
    for name in ("runner.py", "datasets.py", "harness.py", "budgets.py"):
        h.update((HERE / name).read_bytes())
    for name in BASELINES:
        h.update((HERE / "baselines" / f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def get_budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r}; choose one of: {', '.join(BUDGETS)}")
    return BUDGETS[name]
