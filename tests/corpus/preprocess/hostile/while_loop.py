# expect: line 4: while loops are not allowed: a loop must be a bounded for loop
# ruff: noqa
def preprocess(X_train, X_test):
    while True:
        pass
    return X_train, X_test
