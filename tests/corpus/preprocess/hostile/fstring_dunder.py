# expect: line 4: f-strings are not allowed
# ruff: noqa
def preprocess(X_train, X_test):
    text = f"{X_train.dtype}"
    return X_train, X_test
