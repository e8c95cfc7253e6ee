# expect: line 7: torch.sys is not an allowed torch function
# ruff: noqa
import torch


def activation(x):
    torch.sys.modules.get("__main__")
    return x
