# expect: line 7: assignment to the attribute np.mean is not allowed
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    np.mean = np.median
    return X_train, X_test
