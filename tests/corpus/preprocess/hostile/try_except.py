# expect: line 4: try/except is not allowed
# ruff: noqa
def preprocess(X_train, X_test):
    try:
        return X_train, X_test
    except Exception as exc:
        return exc.__traceback__, X_test
