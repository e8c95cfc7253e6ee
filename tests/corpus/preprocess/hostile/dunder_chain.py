# expect: line 4: (...).__class__: dunder and private attributes are not allowed
# ruff: noqa
def preprocess(X_train, X_test):
    classes = (1).__class__.__base__.__subclasses__()
    return X_train, X_test
