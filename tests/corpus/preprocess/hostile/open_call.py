# expect: line 4: open is not an allowed builtin
# ruff: noqa
def preprocess(X_train, X_test):
    data = open("/hf/in/data.npz", "rb")
    return X_train, X_test
