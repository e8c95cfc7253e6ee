# expect: line 6: only imports, a docstring, numeric constants and the function penalty may be at the top level
# ruff: noqa
import torch


class Penalty(torch.nn.Module):
    pass


def penalty(model, logits, targets):
    return logits.sum() * 0.0
