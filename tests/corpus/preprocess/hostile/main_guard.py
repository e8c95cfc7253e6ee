# expect: line 7: only imports, a docstring, numeric constants and the function preprocess may be at the top level
# ruff: noqa
def preprocess(X_train, X_test):
    return X_train, X_test


if __name__ == "__main__":
    preprocess(1, 2)
