# expect: line 4: a helper's default argument values must be numbers
# ruff: noqa
def preprocess(X_train, X_test):
    def keep(row, seen=[]):
        return row

    return X_train, keep(X_test)
