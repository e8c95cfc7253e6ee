# expect: line 6: decorators are not allowed
# ruff: noqa
import torch


@torch.jit.script
def activation(x):
    return x
