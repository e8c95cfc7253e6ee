def preprocess(X_train, X_test):
    # One constant factor for every column: the columns keep their very different scales.
    return X_train * 0.001, X_test * 0.001
