# expect: line 7: with blocks are not allowed
# ruff: noqa
import torch


def penalty(model, logits, targets):
    with torch.no_grad():
        pass
    return logits.sum() * 0.0
