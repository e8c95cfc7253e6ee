# expect: line 6: np.lib.format is not an allowed annotation: annotations must name allowed types
# ruff: noqa
import numpy as np


def preprocess(X_train: "np.lib.format", X_test):
    return X_train, X_test
