# expect: line 4: eval is not an allowed builtin
# ruff: noqa
def activation(x):
    f = eval
    return x
