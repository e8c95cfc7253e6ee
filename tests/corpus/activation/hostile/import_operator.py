# expect: line 3: import of operator is not allowed (allowed: math, torch, torch.nn, torch.nn.functional, torch.special)
# ruff: noqa
import operator


def activation(x):
    return x
