# expect: line 5: the name abs shadows a builtin
# ruff: noqa
import torch

abs = 2.0


def activation(x):
    return torch.tanh(x)
