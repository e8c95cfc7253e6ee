# expect: line 4: in-place update of targets is not allowed: only a name only ever set to new values (total = 0.0, then total += ...) may be updated in place
# ruff: noqa
def penalty(model, logits, targets):
    targets += 1
    return logits.sum() * 0.0
