# expect: line 3: annotations must name types, not Call
# ruff: noqa
def preprocess(X_train: open("/etc/passwd"), X_test):
    return X_train, X_test
