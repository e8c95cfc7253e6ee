"""The data of the grokking task (host side, trusted, never mounted into a container): all pairs
of a + b mod p, tokens renamed by a random permutation per seed (so no formula computes the
answer), half of them for training. Each split is a ``TemplateSplit``: the training pairs, the
held-out pairs' inputs, the vocabulary and the step count go into the job; the held-out answers
(``targets["labels"]``) stay on the host.

The renaming and the train/held-out order come from a seed derived from the installation's secret
(``evaluators.kit.secrets``), never from the seed index itself: ``modular_addition(p, 0)`` run in a
container gives another renaming, so an answer table built from the public seeds predicts a secret
split's held-out answers at chance (1/p).

Split sets (the template kind's ``selection``, ``confirmation`` and ``hard``):

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

The rungs' steps (task.toml: 2000, 4000, 6000) are ``STEPS`` times 1, 2 and 3. A split carries its
own one-pass step count (``inputs["steps"]``, ``STEPS`` for every split here); train.py scales it
as the rung scales ``STEPS``, so a test's smaller split (``split(13, 0, steps=200)``) trains
200, 400 or 600 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.kit.secrets import PUBLIC, DataSecret, derive_seed
from evaluators.template.data import TemplateSplit

PRIME = 31
SEEDS = (0, 1, 2)
FRESH_SEEDS = (3, 4)
HELD_OUT = (23, 29)  # moduli selection never sees
HARD_PRIME = 37
STEPS = 2000  # training steps of the one-pass rung; about 20 s per split on one core


@dataclass(frozen=True, eq=False)
class ArithmeticSplit(TemplateSplit):
    """A split of a + b mod p, with the arrays by their old names (tests and the report read
    them): ``x_train``, ``y_train``, ``x_test`` and ``n_classes`` (p) are public, ``y_test``
    (``targets["labels"]``) is not."""

    @property
    def x_train(self) -> np.ndarray:
        return self.inputs["x_train"]

    @property
    def y_train(self) -> np.ndarray:
        return self.inputs["y_train"]

    @property
    def x_test(self) -> np.ndarray:
        return self.inputs["x_test"]

    @property
    def y_test(self) -> np.ndarray:
        return self.targets["labels"]

    @property
    def n_classes(self) -> int:
        return int(self.inputs["n_classes"])

    @property
    def steps(self) -> int:
        return int(self.inputs["steps"])


def modular_addition(
    p: int, seed: int, train_fraction: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (a, b) of a + b mod p with tokens renamed by a random permutation, split in two:
    training pairs [n, 3] (a, b, "=" as token p), their answers, held-out pairs and answers."""
    rng = np.random.default_rng(seed)
    a, b = (g.ravel() for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    rename = rng.permutation(p)
    x = np.stack([rename[a], rename[b], np.full_like(a, p)], axis=1)
    y = rename[(a + b) % p]
    order = rng.permutation(len(y))
    cut = int(train_fraction * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def split(p: int, seed: int, steps: int = STEPS, *, secret: DataSecret = PUBLIC) -> ArithmeticSplit:
    """The split ``add<p>-s<seed>``: renaming and order from a seed derived from ``secret``."""
    x_train, y_train, x_test, y_test = modular_addition(p, derive_seed(secret, "grokking", p, seed))
    return ArithmeticSplit(
        name=f"add{p}-s{seed}",
        inputs={
            "x_train": x_train.astype(np.int64),
            "y_train": y_train.astype(np.int64),
            "x_test": x_test.astype(np.int64),
            "n_classes": np.array(p, dtype=np.int64),
            "steps": np.array(steps, dtype=np.int64),
        },
        targets={"labels": y_test.astype(np.int64)},
        secret_id=secret.id,
    )


def selection(secret: DataSecret) -> list[ArithmeticSplit]:
    """The three splits of a + b mod ``PRIME`` drawn from ``secret``."""
    return [split(PRIME, s, secret=secret) for s in SEEDS]


def confirmation(secret: DataSecret) -> list[ArithmeticSplit]:
    """Held out from selection: ``PRIME`` and ``HELD_OUT`` at ``FRESH_SEEDS`` (6 splits)."""
    return [split(p, s, secret=secret) for p in (PRIME, *HELD_OUT) for s in FRESH_SEEDS]


def hard(secret: DataSecret) -> list[ArithmeticSplit]:
    """Where the controls separate and the curve does not saturate: ``HARD_PRIME`` at ``SEEDS``."""
    return [split(HARD_PRIME, s, secret=secret) for s in SEEDS]


# The names these sets had before the template kind (tests and the red-team cases call them).
def all_splits(*, secret: DataSecret = PUBLIC) -> list[ArithmeticSplit]:
    return selection(secret)


def confirmation_splits(*, secret: DataSecret = PUBLIC) -> list[ArithmeticSplit]:
    return confirmation(secret)


def hard_splits(*, secret: DataSecret = PUBLIC) -> list[ArithmeticSplit]:
    return hard(secret)
