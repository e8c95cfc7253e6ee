# expect: line 7: np is a module: use one of its allowed functions
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    xp = np
    return xp.lib, X_test
