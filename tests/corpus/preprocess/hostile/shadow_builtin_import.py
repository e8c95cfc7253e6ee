# expect: line 3: the name pow shadows a builtin
# ruff: noqa
from math import pow


def preprocess(X_train, X_test):
    return X_train**2, X_test**2
