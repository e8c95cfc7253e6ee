# expect: line 4: (...).format is not an allowed method or attribute
# ruff: noqa
def preprocess(X_train, X_test):
    text = "{0.__class__.__init__.__globals__}".format(X_train)
    return X_train, X_test
