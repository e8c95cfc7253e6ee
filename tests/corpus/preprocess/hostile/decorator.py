# expect: line 6: decorators are not allowed
# ruff: noqa
import numpy as np


@np.vectorize
def preprocess(X_train, X_test):
    return X_train, X_test
