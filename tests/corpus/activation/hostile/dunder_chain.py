# expect: line 4: x.__class__: dunder and private attributes are not allowed
# ruff: noqa
def activation(x):
    return x.__class__.__mro__.index(x)
