# expect: line 5: p.grad is not an allowed method or attribute: the penalty must not read or change gradients
# ruff: noqa
def penalty(model, logits, targets):
    for p in model.parameters():
        g = p.grad
    return logits.sum() * 0.0
