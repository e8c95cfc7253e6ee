import torch
import torch.nn.functional as F


def activation(x: torch.Tensor) -> torch.Tensor:
    a, b = 1.0, 0.1
    smooth = F.softplus(x, beta=2.0)
    return a * smooth - b * x.clamp(min=-1.0, max=1.0).tanh()
