"""The data of the grokking task: all pairs of a + b mod p, tokens renamed by a random
permutation per seed (so no formula computes the answer), half of them for training. The held-out
answers stay on the host."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.activation.datasets import Split
from evaluators.grokking.train import modular_addition

PRIME = 31
SEEDS = (0, 1, 2)
STEPS = 2000  # training steps of the one-pass budget; about 20 s per split on one core


@dataclass(frozen=True)
class ArithmeticSplit(Split):
    steps: int = STEPS

    def public(self) -> dict[str, np.ndarray]:
        return {**super().public(), f"{self.name}.steps": np.array(self.steps, dtype=np.int64)}


def split(p: int, seed: int, steps: int = STEPS) -> ArithmeticSplit:
    x_train, y_train, x_test, y_test = modular_addition(p, seed)
    return ArithmeticSplit(
        name=f"add{p}-s{seed}",
        x_train=x_train.astype(np.int64),
        y_train=y_train.astype(np.int64),
        x_test=x_test.astype(np.int64),
        y_test=y_test.astype(np.int64),
        n_classes=p,
        steps=steps,
    )


def all_splits() -> list[Split]:
    return [split(PRIME, s) for s in SEEDS]
