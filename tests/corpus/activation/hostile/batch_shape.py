# expect: line 4: x.numel is not an allowed method or attribute
# ruff: noqa
def activation(x):
    return x * x.numel()
