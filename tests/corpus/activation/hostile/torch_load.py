# expect: line 7: torch.load is not an allowed torch function
# ruff: noqa
import torch


def activation(x):
    return torch.load("/hf/in/data.npz") * 0 + x
