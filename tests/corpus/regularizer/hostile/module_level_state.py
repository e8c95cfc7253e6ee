# expect: line 5: the constant HISTORY must be a number or a tuple of numbers
# ruff: noqa
import torch

HISTORY = {"calls": 0}


def penalty(model, logits, targets):
    return logits.sum() * 0.0
