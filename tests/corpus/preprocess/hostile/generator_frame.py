# expect: line 4: (...).gi_frame is not an allowed method or attribute
# ruff: noqa
def preprocess(X_train, X_test):
    frame = (r for r in X_train).gi_frame
    return X_train, X_test
