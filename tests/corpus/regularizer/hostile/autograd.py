# expect: line 7: torch.autograd is not an allowed torch function: it reaches global state or files
# ruff: noqa
import torch


def penalty(model, logits, targets):
    grads = torch.autograd.grad(logits.sum(), list(model.parameters()))
    return logits.sum() * 0.0
