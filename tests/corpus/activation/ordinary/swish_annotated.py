"""Swish with a learnable-looking fixed slope: x * sigmoid(beta * x)."""

import torch

BETA = 1.5


def activation(x: torch.Tensor) -> torch.Tensor:
    """Smooth, non-monotonic near zero, linear for large positive x."""
    return x * torch.sigmoid(BETA * x)
