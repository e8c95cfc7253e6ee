# expect: line 5: item assignment (x[...] = ...) is not allowed: the penalty must not change any tensor
# ruff: noqa
def penalty(model, logits, targets):
    w = model[0].weight
    w[0] = 0.0
    return logits.sum() * 0.0
