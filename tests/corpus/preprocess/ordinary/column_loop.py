import numpy as np


def preprocess(X_train, X_test):
    d = X_train.shape[1]
    train_cols, test_cols = [], []
    for j in range(d):
        col = X_train[:, j]
        lo, hi = float(col.min()), float(col.max())
        width = hi - lo if hi > lo else 1.0
        train_cols.append((col - lo) / width)
        test_cols.append((X_test[:, j] - lo) / width)
    return np.stack(train_cols, axis=1), np.stack(test_cols, axis=1)
