# expect: line 6: activation must take exactly one argument: activation(x)
# ruff: noqa
import torch


def activation(x, calls=[]):
    calls.append(1)
    return torch.relu(x)
