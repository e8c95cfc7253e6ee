# expect: line 7: torch.nn.Module.__call__: dunder and private attributes are not allowed
# ruff: noqa
import torch


def penalty(model, logits, targets):
    torch.nn.Module.__call__ = torch.nn.Module.forward
    return torch.zeros(())
