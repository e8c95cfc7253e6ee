# expect: line 7: assignment to the attribute torch.nn.Module.forward is not allowed
# ruff: noqa
import torch


def activation(x):
    torch.nn.Module.forward = None
    return x
