"""The data of the grokking task: all pairs of a + b mod p, tokens renamed by a random
permutation per seed (so no formula computes the answer), half of them for training. The held-out
answers stay on the host.

The renaming and the train/held-out order come from a seed derived from the installation's
secret (``evaluators.secrets``), never from the seed index itself: ``modular_addition(p, 0)`` run
in a container gives another renaming, so an answer table built from the public seeds predicts a
secret split's held-out answers at chance (1/p).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.activation.datasets import Split
from evaluators.grokking.train import modular_addition
from evaluators.secrets import PUBLIC, DataSecret, derive_seed

PRIME = 31
SEEDS = (0, 1, 2)
STEPS = 2000  # training steps of the one-pass budget; about 20 s per split on one core


@dataclass(frozen=True)
class ArithmeticSplit(Split):
    steps: int = STEPS

    def public(self) -> dict[str, np.ndarray]:
        return {**super().public(), f"{self.name}.steps": np.array(self.steps, dtype=np.int64)}


def split(p: int, seed: int, steps: int = STEPS, *, secret: DataSecret = PUBLIC) -> ArithmeticSplit:
    """The split ``add<p>-s<seed>``: renaming and order from a seed derived from ``secret``."""
    x_train, y_train, x_test, y_test = modular_addition(p, derive_seed(secret, "grokking", p, seed))
    return ArithmeticSplit(
        name=f"add{p}-s{seed}",
        x_train=x_train.astype(np.int64),
        y_train=y_train.astype(np.int64),
        x_test=x_test.astype(np.int64),
        y_test=y_test.astype(np.int64),
        n_classes=p,
        secret_id=secret.id,
        steps=steps,
    )


def all_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """The three splits of a + b mod ``PRIME`` drawn from ``secret``."""
    return [split(PRIME, s, secret=secret) for s in SEEDS]
