# expect: line 4: range is not an allowed builtin: it reads the batch, and an activation must be elementwise
# ruff: noqa
def activation(x):
    for i in range(3):
        x = x * 0.5
    return x
