# expect: line 4: while loops are not allowed: a loop must be a bounded for loop
# ruff: noqa
def activation(x):
    while True:
        pass
    return x
