# expect: line 6: decorators are not allowed
# ruff: noqa
import torch


@torch.no_grad()
def penalty(model, logits, targets):
    return logits.sum() * 0.0
