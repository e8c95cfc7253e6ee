# expect: line 4: in-place update of x is not allowed: only a name only ever set to new values (total = 0.0, then total += ...) may be updated in place
# ruff: noqa
def activation(x):
    x *= 0.5
    return x
