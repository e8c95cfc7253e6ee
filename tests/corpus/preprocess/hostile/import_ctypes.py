# expect: line 3: import of ctypes is not allowed (allowed: math, numpy, numpy.linalg, numpy.typing)
# ruff: noqa
import ctypes


def preprocess(X_train, X_test):
    return X_train, X_test
