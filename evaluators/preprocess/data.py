"""The preprocessing task's data: the kit's secret tabular splits (``evaluators.kit.datasets``,
which the activation task uses as they are), mapped back to raw-looking, unscaled features
(scaling them is the hypothesis's job).

A split's secretly rotated features (``datasets.perturbed``) get one secret scale and offset per
column, drawn from the raw dataset's own column statistics (permuted, each times a log-normal
factor): the columns keep very different scales, as raw data has, while the values are no raw
dataset's. Standardising a raw split with its training statistics gives the activation task's
split of the same name (the same rows, the same test set).

Split sets (``PreprocessEvaluator.splits_for``):

- ``selection``: the raw splits of the activation task's ``DATASETS`` at ``SEEDS`` (21 splits).
- ``confirmation``: held out from selection: the raw splits of ``DATASETS`` and the activation
  task's ``HELD_OUT`` generated datasets (checkerboard, manyclass) at ``FRESH_SEEDS`` (fresh
  secret samples, assignments, perturbations and column scales; 18 splits).
- ``hard``: where scaling matters a lot and accuracy does not saturate: ``WIDE_DATASETS`` with
  columns whose secret scales span ``2 * WIDE_DECADES`` decades and whose offsets are up to
  ``WIDE_OFFSET`` of their scales (``wide_<dataset>-s<seed>``, at ``SEEDS``; 9 splits). A column
  the network sees at a hundredth of another's scale is all but invisible to it unless the
  hypothesis rescales it.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from evaluators.kit.datasets import (
    DATASETS,
    FRESH_SEEDS,
    HELD_OUT,
    SEEDS,
    load,
    perturbed,
)
from evaluators.kit.secrets import PUBLIC, DataSecret, derive_rng
from evaluators.kit.splits import Split

SPREAD = 0.5  # log-normal sigma of the secret factors on the raw columns' scales and offsets
WIDE_DATASETS = ("manyclass", "spirals", "checkerboard")  # the hard set's datasets
WIDE_DECADES = 2.0  # the hard set's column scales: 10 ** uniform(-WIDE_DECADES, WIDE_DECADES)
WIDE_OFFSET = 10.0  # and its offsets: up to this many of the column's scale, either sign


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


@cache
def wide_split(name: str, seed: int, *, secret: DataSecret = PUBLIC) -> Split:
    """The split of ``name``-s``seed`` with secret column scales over ``2 * WIDE_DECADES``
    decades and large offsets, named ``wide_<name>-s<seed>`` (the same rows and test set as the
    activation task's split of ``name``-s``seed``)."""
    p = perturbed(name, seed, secret=secret)
    rng = derive_rng(secret, "wide-scales", name, seed)
    d = p.z_train.shape[1]
    scale = 10.0 ** rng.uniform(-WIDE_DECADES, WIDE_DECADES, size=d)
    offset = scale * rng.uniform(-WIDE_OFFSET, WIDE_OFFSET, size=d)
    return Split(
        name=f"wide_{name}-s{seed}",
        x_train=(p.z_train * scale + offset).astype(np.float32),
        y_train=p.y_train,
        x_test=(p.z_test * scale + offset).astype(np.float32),
        y_test=p.y_test,
        n_classes=p.n_classes,
        secret_id=p.secret_id,
    )


def confirmation_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Held out from selection: ``DATASETS`` and ``HELD_OUT`` at ``FRESH_SEEDS`` (18 splits)."""
    return all_raw_splits((*DATASETS, *HELD_OUT), FRESH_SEEDS, secret=secret)


def hard_splits(*, secret: DataSecret = PUBLIC) -> list[Split]:
    """Where scaling matters: ``WIDE_DATASETS`` on widely scaled columns at ``SEEDS`` (9)."""
    return [wide_split(d, s, secret=secret) for d in WIDE_DATASETS for s in SEEDS]
