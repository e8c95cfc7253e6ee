"""The preprocessing task's data: the activation task's datasets and splits, with the raw,
unscaled features (scaling them is the hypothesis's job)."""

from __future__ import annotations

from functools import cache

import numpy as np

from evaluators.activation.datasets import DATASETS, SEEDS, TEST_FRACTION, Split, load


@cache
def raw_split(name: str, seed: int) -> Split:
    """The same stratified split as the activation task's, without standardisation."""
    from sklearn.model_selection import train_test_split

    x, y = load(name)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=seed, stratify=y
    )
    return Split(
        name=f"{name}-s{seed}",
        x_train=x_tr.astype(np.float32),
        y_train=y_tr,
        x_test=x_te.astype(np.float32),
        y_test=y_te,
        n_classes=int(y.max()) + 1,
    )


def all_raw_splits(
    datasets: tuple[str, ...] = DATASETS, seeds: tuple[int, ...] = SEEDS
) -> list[Split]:
    return [raw_split(d, s) for d in datasets for s in seeds]
