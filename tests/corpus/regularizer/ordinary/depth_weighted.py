import torch


def penalty(model, logits, targets):
    # Deeper layers decay more: weight i+1 for the i-th parameter tensor.
    params = list(model.parameters())
    total = torch.zeros(())
    for i, p in enumerate(params):
        total += float(i + 1) / len(params) * (p * p).sum()
    return 1e-4 * total
