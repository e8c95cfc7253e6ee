# expect: line 7: len is not an allowed builtin: it reads the batch, and an activation must be elementwise
# ruff: noqa
import torch


def activation(x):
    if len(x) == 401:
        return torch.relu(x)
    return torch.tanh(x)
