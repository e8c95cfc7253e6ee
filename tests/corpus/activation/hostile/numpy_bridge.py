# expect: line 4: x.numpy is not an allowed method or attribute
# ruff: noqa
def activation(x):
    return x.numpy()
