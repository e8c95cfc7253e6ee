import torch.nn.functional as F


def penalty(model, logits, targets):
    probs = F.softmax(logits, dim=1)
    return (
        0.1 * logits.var(dim=0).mean() + 0.01 * (probs.max(dim=1).values - 0.5).clamp(min=0).mean()
    )
