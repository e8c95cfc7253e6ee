# expect: line 7: sum is not an allowed builtin: it reads the batch, and an activation must be elementwise
# ruff: noqa
import torch


def activation(x):
    centre = sum(x) / 64.0
    return torch.relu(x - centre)
