def penalty(model, logits, targets):
    return 1e-4 * sum(p.abs().sum() for p in model.parameters())
