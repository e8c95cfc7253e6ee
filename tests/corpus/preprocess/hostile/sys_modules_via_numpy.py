# expect: line 7: np.core is not an allowed numpy function
# ruff: noqa
import numpy as np


def preprocess(X_train, X_test):
    runner = np.core.sys.modules["__main__"]
    runner.train_predict(X_train)
    return X_train, X_test
