# expect: line 7: indexing is not allowed: it reads the batch, and an activation must be elementwise
# ruff: noqa
import torch


def activation(x):
    return torch.where(x[0] > 5.0, x, -x)
