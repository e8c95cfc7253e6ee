# expect: line 5: the name len shadows a builtin
# ruff: noqa
import numpy as np

len = 3


def preprocess(X_train, X_test):
    return X_train, X_test
