# expect: line 7: torch.optim is not an allowed torch function: it reaches global state or files
# ruff: noqa
import torch


def penalty(model, logits, targets):
    extra = torch.optim.SGD(model.parameters(), lr=1.0)
    return logits.sum() * 0.0
