# expect: line 4: print is not an allowed builtin
# ruff: noqa
def preprocess(X_train, X_test):
    print(X_test)
    return X_train, X_test
