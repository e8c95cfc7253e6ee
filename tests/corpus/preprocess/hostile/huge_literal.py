# expect: line 4: integer literal too large
# ruff: noqa
def preprocess(X_train, X_test):
    big = 123456789012345678901234567890
    return X_train, X_test
