"""The tanh approximation of GELU, written out."""

from __future__ import annotations

import math

import torch

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
COEFF = 0.044715


def activation(x: torch.Tensor) -> torch.Tensor:
    inner = SQRT_2_OVER_PI * (x + COEFF * x**3)
    return 0.5 * x * (1.0 + torch.tanh(inner))
