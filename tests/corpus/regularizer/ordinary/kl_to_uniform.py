import torch
import torch.nn.functional as F

SMOOTHING = 0.1


def penalty(model, logits, targets):
    log_probs = F.log_softmax(logits, dim=1)
    uniform = torch.full_like(log_probs, 1.0 / logits.size(1))
    return SMOOTHING * F.kl_div(log_probs, uniform, reduction="batchmean")
