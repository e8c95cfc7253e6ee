# expect: line 3: import of functools is not allowed (allowed: math, torch, torch.linalg, torch.nn, torch.nn.functional, torch.special)
# ruff: noqa
import functools


def penalty(model, logits, targets):
    return logits.sum() * 0.0
