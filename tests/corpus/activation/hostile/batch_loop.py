# expect: line 4: a for loop may only run over a literal tuple: it would read the batch
# ruff: noqa
def activation(x):
    for row in x:
        pass
    return x
