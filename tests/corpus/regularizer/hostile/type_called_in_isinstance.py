# expect: line 7: torch.Tensor is a type: only annotations and isinstance may use it
# ruff: noqa
import torch


def penalty(model, logits, targets):
    if isinstance(logits, torch.Tensor(3)):
        return logits.sum()
    return logits.sum() * 0.0
