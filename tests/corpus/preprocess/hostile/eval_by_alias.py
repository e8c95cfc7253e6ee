# expect: line 4: eval is not an allowed builtin
# ruff: noqa
def preprocess(X_train, X_test):
    run = eval
    return run("X_train"), X_test
