# expect: line 7: torch.Tensor.__dict__: dunder and private attributes are not allowed
# ruff: noqa
import torch


def penalty(model, logits, targets):
    table = torch.Tensor.__dict__
    return torch.zeros(())
