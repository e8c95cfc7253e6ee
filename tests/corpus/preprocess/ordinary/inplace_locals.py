import numpy as np


def preprocess(X_train, X_test):
    Z = X_train.astype(np.float64)
    T = X_test.astype(np.float64)
    mean = Z.mean(axis=0)
    std = Z.std(axis=0)
    std[std == 0] = 1.0
    Z -= mean
    Z /= std
    T -= mean
    T /= std
    return Z, T
