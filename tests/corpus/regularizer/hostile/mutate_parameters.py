# expect: line 5: p.mul_ is not an allowed method or attribute: in-place operations are not allowed
# ruff: noqa
def penalty(model, logits, targets):
    for p in model.parameters():
        p.mul_(0.5)
    return logits.sum() * 0.0
