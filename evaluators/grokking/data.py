"""The data of the grokking task: all pairs of a + b mod p, tokens renamed by a random
permutation per seed (so no formula computes the answer), half of them for training. The held-out
answers stay on the host.

The renaming and the train/held-out order come from a seed derived from the installation's secret
(``evaluators.kit.secrets``), never from the seed index itself: ``modular_addition(p, 0)`` run in a
container gives another renaming, so an answer table built from the public seeds predicts a secret
split's held-out answers at chance (1/p).

Split sets (``GrokkingEvaluator.splits_for``):

- ``selection``: a + b mod ``PRIME`` at ``SEEDS`` (``add31-s0`` .. ``-s2``).
- ``confirmation``: held out from selection: fresh seeds ``FRESH_SEEDS`` of a + b mod ``PRIME``
  and of two moduli selection never sees, ``HELD_OUT`` (``add23``, ``add29``; 6 splits): other
  tables, other vocabularies, other numbers of training pairs. Smaller primes than ``PRIME``, so
  that the six splits fit the one-pass budget's wall clock (estimated from ``STEPS``' 20 s per
  split of 31 * 31 pairs: about 90 s on one core; with 37 for 23, 130 s, over its 120 s).
- ``hard``: a + b mod ``HARD_PRIME`` at ``SEEDS`` (3 splits), where the area under the held-out
  accuracy curve stays well below 1 for the template and the known-worse settings (no weight
  decay, a tenth of the learning rate) should fall far below it. Calibrate it at the short or
  full budget: at one-pass its 37 * 37 pairs take most of the budget's 120 s on one core.
  (Subtraction mod 31 and a training fraction of 0.4 were tried and dropped: no setting
  generalises within the budgets there, so every control scores alike.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.grokking.train import modular_addition
from evaluators.kit.secrets import PUBLIC, DataSecret, derive_seed
from evaluators.kit.splits import Split

PRIME = 31
SEEDS = (0, 1, 2)
FRESH_SEEDS = (3, 4)
HELD_OUT = (23, 29)  # moduli selection never sees
HARD_PRIME = 37
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


def confirmation_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Held out from selection: ``PRIME`` and ``HELD_OUT`` at ``FRESH_SEEDS`` (6 splits)."""
    return [split(p, s, secret=secret) for p in (PRIME, *HELD_OUT) for s in FRESH_SEEDS]


def hard_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Where the controls separate and the curve does not saturate: ``HARD_PRIME`` at ``SEEDS``."""
    return [split(HARD_PRIME, s, secret=secret) for s in SEEDS]
