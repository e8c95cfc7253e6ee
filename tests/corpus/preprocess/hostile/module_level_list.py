# expect: line 5: the constant SEEN must be a number or a tuple of numbers
# ruff: noqa
import numpy as np

SEEN = []


def preprocess(X_train, X_test):
    SEEN.append(X_test)
    return X_train, X_test
