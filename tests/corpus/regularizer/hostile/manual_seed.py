# expect: line 7: torch.manual_seed is not an allowed torch function: it reaches global state or files
# ruff: noqa
import torch


def penalty(model, logits, targets):
    torch.manual_seed(0)
    return logits.sum() * 0.0
