# expect: line 5: DROPOUT must be a number in [0, 0.9], got 0.99
# ruff: noqa
import torch

DROPOUT = 0.99


def penalty(model, logits, targets):
    return torch.zeros(())
