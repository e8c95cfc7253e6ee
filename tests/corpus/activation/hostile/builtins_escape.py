# expect: line 4: __builtins__: dunder and private names are not allowed
# ruff: noqa
def activation(x):
    return __builtins__.eval("x")
