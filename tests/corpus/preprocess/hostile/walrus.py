# expect: line 4: the walrus operator := is not allowed
# ruff: noqa
def preprocess(X_train, X_test):
    if (n := len(X_train)) > 0:
        return X_train, X_test
    return X_train, X_test
