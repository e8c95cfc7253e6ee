# expect: line 4: the name np is reserved for the runner and the imports
# ruff: noqa
def preprocess(X_train, X_test):
    np = X_train
    return np, X_test
