# expect: line 7: inplace= is not allowed: return a new value instead of writing one
# ruff: noqa
import torch.nn.functional as F


def penalty(model, logits, targets):
    F.relu(logits, inplace=True)
    return logits.sum() * 0.0
