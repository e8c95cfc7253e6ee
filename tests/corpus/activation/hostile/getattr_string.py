# expect: line 4: getattr is not an allowed builtin
# ruff: noqa
def activation(x):
    return getattr(x, "re" + "lu")()
