# expect: line 4: unpacking is allowed only from a literal tuple: it would read the batch
# ruff: noqa
def activation(x):
    first, second = x
    return x * 0.5
