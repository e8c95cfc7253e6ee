"""Robust scaling: centre on the median, divide by the interquartile range."""

import numpy as np


def preprocess(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    median = np.median(X_train, axis=0)
    q75, q25 = np.percentile(X_train, [75, 25], axis=0)
    iqr = np.where(q75 - q25 > 0, q75 - q25, 1.0)
    return (X_train - median) / iqr, (X_test - median) / iqr
