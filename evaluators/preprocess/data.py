"""The preprocessing task's data: the activation task's secret splits, mapped back to raw-looking,
unscaled features (scaling them is the hypothesis's job).

A split's secretly rotated features (``datasets.perturbed``) get one secret scale and offset per
column, drawn from the raw dataset's own column statistics (permuted, each times a log-normal
factor): the columns keep very different scales, as raw data has, while the values are no raw
dataset's. Standardising a raw split with its training statistics gives the activation task's
split of the same name (the same rows, the same test set).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from evaluators.activation.datasets import DATASETS, SEEDS, Split, load, perturbed
from evaluators.secrets import PUBLIC, DataSecret, derive_rng

SPREAD = 0.5  # log-normal sigma of the secret factors on the raw columns' scales and offsets


def raw_scales(name: str, seed: int, secret: DataSecret) -> tuple[np.ndarray, np.ndarray]:
    """Secret per-column (scale, offset) for the raw split: the raw columns' standard deviations
    and means, permuted and jittered, so that they look raw without being the raw columns."""
    x, _ = load(name, secret=secret)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    rng = derive_rng(secret, "raw-scales", name, seed)
    order = rng.permutation(x.shape[1])
    scale = std[order] * rng.lognormal(0.0, SPREAD, size=len(order))
    offset = mean[order] * rng.lognormal(0.0, SPREAD, size=len(order))
    return scale, offset


@cache
def raw_split(name: str, seed: int, *, secret: DataSecret = PUBLIC) -> Split:
    """The activation task's split of ``name``-s``seed`` on raw-looking, unscaled columns."""
    p = perturbed(name, seed, secret=secret)
    scale, offset = raw_scales(name, seed, secret)
    return Split(
        name=f"{name}-s{seed}",
        x_train=(p.z_train * scale + offset).astype(np.float32),
        y_train=p.y_train,
        x_test=(p.z_test * scale + offset).astype(np.float32),
        y_test=p.y_test,
        n_classes=p.n_classes,
        secret_id=p.secret_id,
    )


def all_raw_splits(
    datasets: tuple[str, ...] = DATASETS,
    seeds: tuple[int, ...] = SEEDS,
    *,
    secret: DataSecret = PUBLIC,
) -> list[Split]:
    """Every (dataset, seed) raw split drawn from ``secret``."""
    return [raw_split(d, s, secret=secret) for d in datasets for s in seeds]
