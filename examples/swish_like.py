"""A SiLU/Swish-like gate: x times a sigmoid of x with a slightly steeper slope."""

import torch


def activation(x):
    return x * torch.sigmoid(1.2 * x)
