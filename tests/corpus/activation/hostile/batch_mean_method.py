# expect: line 4: x.mean is not an allowed method or attribute
# ruff: noqa
def activation(x):
    return x - x.mean()
