# expect: line 4: open is not an allowed builtin
# ruff: noqa
def activation(x):
    open("/tmp/leak", "w")
    return x
