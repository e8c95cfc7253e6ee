# expect: line 4: (...).format is not an allowed method or attribute
# ruff: noqa
def activation(x):
    s = "{0.__class__}".format(x)
    return x
