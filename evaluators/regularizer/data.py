"""The regularizer task's data: the activation task's secret standardised splits with the training
set cut to a small stratified sample (so that a wide network overfits); the test sets are
unchanged. Which training rows are kept is drawn from the secret too."""

from __future__ import annotations

from functools import cache

from evaluators.activation.datasets import DATASETS, SEEDS, Split, split
from evaluators.secrets import PUBLIC, DataSecret, derive_seed

PER_CLASS = 6
MIN_TRAIN = 60


@cache
def small_split(name: str, seed: int, *, secret: DataSecret = PUBLIC) -> Split:
    """The split ``name``-s``seed`` with a small, secret, stratified training sample."""
    from sklearn.model_selection import train_test_split

    full = split(name, seed, secret=secret)
    keep = max(MIN_TRAIN, PER_CLASS * full.n_classes)
    x_tr, _, y_tr, _ = train_test_split(
        full.x_train,
        full.y_train,
        train_size=keep,
        random_state=derive_seed(secret, "small", name, seed),
        stratify=full.y_train,
    )
    return Split(
        name=full.name,
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
