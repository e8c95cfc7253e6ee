"""PCA whitening fitted on the training rows."""

import numpy as np

EPS = 1e-5


def preprocess(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X_train.mean(axis=0)
    centred = X_train - mean
    cov = np.cov(centred, rowvar=False)
    cov = np.atleast_2d(cov)
    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 0.0, None)
    W = vecs / np.sqrt(vals + EPS)
    return centred @ W, (X_test - mean) @ W
