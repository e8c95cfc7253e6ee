# expect: line 3: import of operator is not allowed (allowed: math, numpy, numpy.linalg, numpy.typing)
# ruff: noqa
import operator


def preprocess(X_train, X_test):
    return X_train, X_test
