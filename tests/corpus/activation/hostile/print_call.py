# expect: line 4: print is not an allowed builtin
# ruff: noqa
def activation(x):
    print(x)
    return x
