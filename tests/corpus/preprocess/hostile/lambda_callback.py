# expect: line 7: lambda is not allowed: define a helper with def or write the expression inline
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    f = lambda X: X
    return f(X_train), X_test
