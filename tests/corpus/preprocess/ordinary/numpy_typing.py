import numpy as np
import numpy.typing as npt


def preprocess(
    X_train: npt.NDArray[np.float32], X_test: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    low = X_train.min(axis=0)
    span = np.ptp(X_train, axis=0)
    span = np.where(span > 0, span, 1.0)
    return ((X_train - low) / span).astype(np.float64), ((X_test - low) / span).astype(np.float64)
