import numpy as np


def preprocess(X_train, X_test):
    low = X_train.min(axis=0)
    span = X_train.max(axis=0) - low
    span = np.where(span > 0, span, 1.0)
    return (X_train - low) / span, (X_test - low) / span
