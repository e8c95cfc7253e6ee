# expect: line 5: p.data is not an allowed method or attribute: it bypasses autograd and can change the parameters
# ruff: noqa
def penalty(model, logits, targets):
    for p in model.parameters():
        shared = p.data
    return logits.sum() * 0.0
