# expect: line 3: only imports, a docstring, numeric constants and the function activation may be at the top level
# ruff: noqa
class Act:
    pass


def activation(x):
    return x
