# expect: line 4: nested functions are not allowed
# ruff: noqa
def activation(x):
    def inner(y):
        return y

    return inner(x)
