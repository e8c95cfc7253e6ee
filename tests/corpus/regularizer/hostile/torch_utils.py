# expect: line 7: torch.utils is not an allowed torch function: it reaches global state or files
# ruff: noqa
import torch


def penalty(model, logits, targets):
    torch.utils.data.DataLoader
    return torch.zeros(())
