# expect: line 7: torch.from_file is not an allowed torch function: it reaches global state or files
# ruff: noqa
import torch


def penalty(model, logits, targets):
    leaked = torch.from_file("/hf/in/data.npz", size=10)
    return torch.zeros(())
