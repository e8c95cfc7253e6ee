import torch
from torch.nn import functional as F


def activation(x: torch.Tensor) -> torch.Tensor:
    """Mish: x * tanh(softplus(x))."""
    return x * torch.tanh(F.softplus(x))
