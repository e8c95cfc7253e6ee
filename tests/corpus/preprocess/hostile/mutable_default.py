# expect: line 3: preprocess must take exactly two arguments: preprocess(X_train, X_test)
# ruff: noqa
def preprocess(X_train, X_test, cache=[]):
    cache.append(X_test)
    return X_train, X_test
