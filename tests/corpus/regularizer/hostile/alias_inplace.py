# expect: line 5: in-place update of w is not allowed: only a name only ever set to new values (total = 0.0, then total += ...) may be updated in place
# ruff: noqa
def penalty(model, logits, targets):
    for w in model.parameters():
        w += 0.01
    return logits.sum() * 0.0
