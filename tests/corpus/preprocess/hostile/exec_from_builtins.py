# expect: line 3: import from builtins is not allowed
# ruff: noqa
from builtins import exec


def preprocess(X_train, X_test):
    return X_train, X_test
