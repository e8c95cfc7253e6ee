# expect: line 7: __builtins__: dunder and private names are not allowed
# ruff: noqa
import torch


def penalty(model, logits, targets):
    return __builtins__["len"](logits) * torch.zeros(())
