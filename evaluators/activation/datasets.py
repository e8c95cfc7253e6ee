"""The datasets of the activation task: all offline, all deterministic given a seed.

Four ship with scikit-learn (digits, breast_cancer, wine, iris); three are generated (moons,
circles, spirals). Each (dataset, seed) pair gets one stratified train/test split, standardised
with the training statistics. Test labels stay on the host: only ``Split.public`` crosses into a
container.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

DATASETS = ("digits", "breast_cancer", "wine", "iris", "moons", "circles", "spirals")
SEEDS = (0, 1, 2)
TEST_FRACTION = 0.3


@dataclass(frozen=True)
class Split:
    name: str  # "<dataset>-s<seed>"
    x_train: np.ndarray  # float32 [n_train, d], standardised
    y_train: np.ndarray  # int64 [n_train]
    x_test: np.ndarray  # float32 [n_test, d], standardised with training statistics
    y_test: np.ndarray  # int64 [n_test]; never leaves the host
    n_classes: int

    def public(self) -> dict[str, np.ndarray]:
        """The arrays a container may see: everything but the test labels."""
        return {
            f"{self.name}.x_train": self.x_train,
            f"{self.name}.y_train": self.y_train,
            f"{self.name}.x_test": self.x_test,
            f"{self.name}.n_classes": np.array(self.n_classes, dtype=np.int64),
        }


def _spirals(n: int = 900, arms: int = 3, noise: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    per = n // arms
    xs, ys = [], []
    for k in range(arms):
        t = np.linspace(0.3, 3.5, per)
        angle = t * 2.0 + 2 * np.pi * k / arms
        pts = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
        xs.append(pts + rng.normal(scale=noise * 0.3, size=pts.shape))
        ys.append(np.full(per, k))
    return np.concatenate(xs), np.concatenate(ys)


@cache
def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one dataset (the whole of it, before splitting)."""
    from sklearn import datasets as sk

    loaders = {
        "digits": lambda: sk.load_digits(return_X_y=True),
        "breast_cancer": lambda: sk.load_breast_cancer(return_X_y=True),
        "wine": lambda: sk.load_wine(return_X_y=True),
        "iris": lambda: sk.load_iris(return_X_y=True),
        "moons": lambda: sk.make_moons(n_samples=1000, noise=0.25, random_state=1234),
        "circles": lambda: sk.make_circles(
            n_samples=1000, noise=0.15, factor=0.5, random_state=1234
        ),
        "spirals": _spirals,
    }
    if name not in loaders:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    x, y = loaders[name]()
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)


@cache
def split(name: str, seed: int) -> Split:
    """The train/test split of ``name`` for ``seed``: identical for every candidate and baseline."""
    from sklearn.model_selection import train_test_split

    x, y = load(name)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=seed, stratify=y
    )
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0
    return Split(
        name=f"{name}-s{seed}",
        x_train=((x_tr - mean) / std).astype(np.float32),
        y_train=y_tr,
        x_test=((x_te - mean) / std).astype(np.float32),
        y_test=y_te,
        n_classes=int(y.max()) + 1,
    )


def all_splits(datasets: tuple[str, ...] = DATASETS, seeds: tuple[int, ...] = SEEDS) -> list[Split]:
    return [split(d, s) for d in datasets for s in seeds]
