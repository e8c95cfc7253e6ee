import torch

ALPHA = 1.2
FLOOR = 1e-3


def activation(x: torch.Tensor) -> torch.Tensor:
    # Two-argument max of scalars: a safe slope, not a reduction over the batch.
    slope = max(ALPHA, FLOOR)
    return torch.log1p(torch.exp(slope * x)) / slope
