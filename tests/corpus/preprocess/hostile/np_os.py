# expect: line 7: np.testing is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    np.testing.os.system("true")
    return X_train, X_test
