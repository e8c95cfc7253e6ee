"""A fixed mixture of scaled tanh units over a literal table of (weight, slope) pairs."""

import torch
import torch.nn.functional as F

UNITS = ((0.5, 1.0), (0.25, 2.0), (0.25, 4.0))


def activation(x: torch.Tensor) -> torch.Tensor:
    out = 0.0 * x
    for weight, slope in ((0.5, 1.0), (0.25, 2.0), (0.25, 4.0)):
        out += weight * torch.tanh(slope * x)
    return out + 0.1 * F.relu(x)
