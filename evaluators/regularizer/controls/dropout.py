import torch

DROPOUT = 0.3


def penalty(model, logits, targets):
    return torch.zeros(())
