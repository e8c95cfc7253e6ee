# expect: line 4: X_train.tofile is not an allowed method or attribute
# ruff: noqa
def preprocess(X_train, X_test):
    X_train.tofile("/hf/out/leak")
    return X_train, X_test
