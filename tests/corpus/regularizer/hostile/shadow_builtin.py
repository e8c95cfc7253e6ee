# expect: line 5: the name range shadows a builtin
# ruff: noqa
import torch

range = 3


def penalty(model, logits, targets):
    return torch.zeros(())
