# expect: line 7: out= is not allowed: return a new value instead of writing one
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    np.add(X_train, 1.0, out=X_train)
    return X_train, X_test
