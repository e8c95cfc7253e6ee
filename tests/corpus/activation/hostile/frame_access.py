# expect: line 4: x.grad_fn is not an allowed method or attribute
# ruff: noqa
def activation(x):
    return x.grad_fn.next_functions
