# expect: line 7: assignment to the attribute F.cross_entropy is not allowed
# ruff: noqa
import torch.nn.functional as F


def penalty(model, logits, targets):
    F.cross_entropy = F.mse_loss
    return logits.sum() * 0.0
