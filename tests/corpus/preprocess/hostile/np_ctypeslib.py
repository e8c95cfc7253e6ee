# expect: line 7: np.ctypeslib is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    ptr = np.ctypeslib.as_ctypes(X_train)
    return X_train, X_test
