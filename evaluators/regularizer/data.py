"""The regularizer task's data: the activation task's standardised splits with the training set
cut to a small stratified sample (so that a wide network overfits); the test sets are unchanged."""

from __future__ import annotations

from functools import cache

from evaluators.activation.datasets import DATASETS, SEEDS, Split, split

PER_CLASS = 6
MIN_TRAIN = 60


@cache
def small_split(name: str, seed: int) -> Split:
    from sklearn.model_selection import train_test_split

    full = split(name, seed)
    keep = max(MIN_TRAIN, PER_CLASS * full.n_classes)
    x_tr, _, y_tr, _ = train_test_split(
        full.x_train, full.y_train, train_size=keep, random_state=seed, stratify=full.y_train
    )
    return Split(
        name=full.name,
        x_train=x_tr,
        y_train=y_tr,
        x_test=full.x_test,
        y_test=full.y_test,
        n_classes=full.n_classes,
    )


def all_small_splits(
    datasets: tuple[str, ...] = DATASETS, seeds: tuple[int, ...] = SEEDS
) -> list[Split]:
    return [small_split(d, s) for d in datasets for s in seeds]
