import torch


def penalty(model, logits, targets):
    return torch.zeros(())
