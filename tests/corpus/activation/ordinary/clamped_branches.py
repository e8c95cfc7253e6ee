"""Hard-swish-like piecewise function with a negative leak."""

import torch

LOWER = -3.0
UPPER = 3.0
LEAK = 0.01


def activation(x: torch.Tensor) -> torch.Tensor:
    ramp = torch.clamp(x, min=LOWER, max=UPPER)
    core = x * (ramp - LOWER) / (UPPER - LOWER)
    return torch.where(x < LOWER, LEAK * x, core)
