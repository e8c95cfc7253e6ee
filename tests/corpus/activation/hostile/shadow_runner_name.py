# expect: line 5: the name F is reserved for the runner and the imports
# ruff: noqa
import torch

F = 1.5


def activation(x):
    return torch.tanh(F * x)
