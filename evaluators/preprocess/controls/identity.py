def preprocess(X_train, X_test):
    return X_train, X_test
