import numpy as np

LOW_Q, HIGH_Q = 1.0, 99.0


def preprocess(X_train, X_test):
    lo = np.percentile(X_train, 1.0, axis=0)
    hi = np.percentile(X_train, 99.0, axis=0)
    span = np.maximum(hi - lo, 1e-6)

    def scale(X: np.ndarray) -> np.ndarray:
        clipped = np.clip(X, lo, hi)
        return 2.0 * (clipped - lo) / span - 1.0

    return scale(X_train), scale(X_test)
