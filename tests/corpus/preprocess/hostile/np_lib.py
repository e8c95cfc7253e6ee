# expect: line 7: np.lib is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    np.lib.format.open_memmap("/tmp/x.npy")
    return X_train, X_test
