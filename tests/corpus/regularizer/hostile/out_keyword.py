# expect: line 8: out= is not allowed: return a new value instead of writing one
# ruff: noqa
import torch


def penalty(model, logits, targets):
    for p in model.parameters():
        torch.mul(p, 0.5, out=p)
    return logits.sum() * 0.0
