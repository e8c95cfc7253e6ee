# expect: line 7: torch.randn_like is not an allowed torch function
# ruff: noqa
import torch


def penalty(model, logits, targets):
    return (logits * torch.randn_like(logits)).mean()
