"""The regularizer task's data: the kit's secret standardised tabular splits
(``evaluators.kit.datasets``, the activation task's) with the training set cut to a small stratified
sample (so that a wide network overfits); the test sets are unchanged. Which training rows are kept
is drawn from the secret too.

Split sets (``RegularizerEvaluator.splits_for``):

- ``selection``: the small splits of the activation task's ``DATASETS`` at ``SEEDS`` (21).
- ``confirmation``: held out from selection: the small splits of ``DATASETS`` and the activation
  task's ``HELD_OUT`` generated datasets (checkerboard, manyclass) at ``FRESH_SEEDS`` (fresh
  secret samples, assignments, perturbations and training samples; 18 splits).
- ``hard``: small training sets (``HARD_TRAIN`` rows) of the harder generated problems
  ``HARD_DATASETS``, where test accuracy stays well below 1 (``few_<dataset>-s<seed>``, at
  ``SEEDS``; 6 splits).
"""

from __future__ import annotations

from functools import cache

from evaluators.kit.datasets import DATASETS, FRESH_SEEDS, HELD_OUT, SEEDS, split
from evaluators.kit.secrets import PUBLIC, DataSecret, derive_seed
from evaluators.kit.splits import Split

PER_CLASS = 6
MIN_TRAIN = 60
HARD_DATASETS = ("checkerboard", "manyclass")
# Training rows of a hard split: 20 per class of manyclass, about 8 per checkerboard cell.
HARD_TRAIN = 120


@cache
def small_split(
    name: str, seed: int, *, secret: DataSecret = PUBLIC, keep: int = 0, prefix: str = ""
) -> Split:
    """The split ``name``-s``seed`` with a small, secret, stratified training sample of ``keep``
    rows (0: ``PER_CLASS`` per class, at least ``MIN_TRAIN``), named ``<prefix><name>-s<seed>``."""
    from sklearn.model_selection import train_test_split

    full = split(name, seed, secret=secret)
    label = "small" if not prefix else f"small-{prefix}"
    x_tr, _, y_tr, _ = train_test_split(
        full.x_train,
        full.y_train,
        train_size=keep or max(MIN_TRAIN, PER_CLASS * full.n_classes),
        random_state=derive_seed(secret, label, name, seed),
        stratify=full.y_train,
    )
    return Split(
        name=f"{prefix}{full.name}",
        x_train=x_tr,
        y_train=y_tr,
        x_test=full.x_test,
        y_test=full.y_test,
        n_classes=full.n_classes,
        secret_id=full.secret_id,
    )


def all_small_splits(
    datasets: tuple[str, ...] = DATASETS,
    seeds: tuple[int, ...] = SEEDS,
    *,
    secret: DataSecret = PUBLIC,
) -> list[Split]:
    """Every (dataset, seed) small split drawn from ``secret``."""
    return [small_split(d, s, secret=secret) for d in datasets for s in seeds]


def confirmation_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Held out from selection: ``DATASETS`` and ``HELD_OUT`` at ``FRESH_SEEDS`` (18 splits)."""
    return all_small_splits((*DATASETS, *HELD_OUT), FRESH_SEEDS, secret=secret)


def hard_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Small training sets of harder data: ``HARD_DATASETS`` at ``SEEDS`` (6 splits)."""
    return [
        small_split(d, s, secret=secret, keep=HARD_TRAIN, prefix="few_")
        for d in HARD_DATASETS
        for s in SEEDS
    ]
