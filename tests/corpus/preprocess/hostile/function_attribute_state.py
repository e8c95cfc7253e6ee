# expect: line 4: assignment to the attribute preprocess.cache is not allowed
# ruff: noqa
def preprocess(X_train, X_test):
    preprocess.cache = X_test
    return X_train, X_test
