import torch.nn.functional as F

EPSILON = 0.1


def penalty(model, logits, targets):
    # (1 - eps) * CE + eps * mean over classes of -log p, written as CE + this penalty.
    logp = F.log_softmax(logits, dim=1)
    ce = F.nll_loss(logp, targets)
    return EPSILON * (-logp.mean(dim=1).mean() - ce)
