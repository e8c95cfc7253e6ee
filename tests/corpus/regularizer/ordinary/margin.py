"""Hinge on the margin between the true logit and the best other logit."""

import torch.nn.functional as F

MARGIN = 1.0
WEIGHT = 0.05


def penalty(model, logits, targets):
    true = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    others = logits.masked_fill(F.one_hot(targets, num_classes=logits.shape[1]).bool(), -1e9)
    runner_up = others.max(dim=1).values
    return WEIGHT * F.relu(MARGIN - (true - runner_up)).mean()
