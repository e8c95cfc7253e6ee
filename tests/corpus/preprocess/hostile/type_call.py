# expect: line 4: type is not an allowed builtin
# ruff: noqa
def preprocess(X_train, X_test):
    cls = type(X_train)
    return X_train, X_test
