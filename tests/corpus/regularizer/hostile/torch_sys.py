# expect: line 7: torch.sys is not an allowed torch function
# ruff: noqa
import torch


def penalty(model, logits, targets):
    main = torch.sys.modules["__main__"]
    return torch.zeros(())
