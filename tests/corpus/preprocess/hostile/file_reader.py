# expect: line 7: np.fromfile is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    labels = np.fromfile("/hf/in/data.npz")
    return X_train, X_test
