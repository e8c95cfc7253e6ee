# expect: line 7: np.random is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    noise = np.random.rand(*X_train.shape)
    return X_train + noise, X_test
