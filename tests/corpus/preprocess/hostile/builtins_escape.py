# expect: line 7: __builtins__: dunder and private names are not allowed
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    imp = __builtins__["__import__"]
    imp("os").system("true")
    return X_train, X_test
