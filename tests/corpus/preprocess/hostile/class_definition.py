# expect: line 3: only imports, a docstring, numeric constants and the function preprocess may be at the top level
# ruff: noqa
class Cache:
    rows = []


def preprocess(X_train, X_test):
    return X_train, X_test
