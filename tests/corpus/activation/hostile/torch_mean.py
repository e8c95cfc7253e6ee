# expect: line 7: torch.std is not an allowed torch function
# ruff: noqa
import torch


def activation(x):
    return x / torch.std(x)
