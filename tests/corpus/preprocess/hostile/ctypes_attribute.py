# expect: line 4: X_train.ctypes is not an allowed method or attribute
# ruff: noqa
def preprocess(X_train, X_test):
    address = X_train.ctypes.data
    return X_train, X_test
