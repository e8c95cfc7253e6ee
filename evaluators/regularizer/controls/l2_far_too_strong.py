def penalty(model, logits, targets):
    # A hundred times the L2 baseline's weight: the penalty outweighs the data.
    return 0.1 * sum((p * p).sum() for p in model.parameters())
