# expect: line 5: in-place update of w is not allowed: only a name only ever set to new values (total = 0.0, then total += ...) may be updated in place
# ruff: noqa
def penalty(model, logits, targets):
    w = list(model.parameters())[0].detach()
    w += 1.0
    return logits.sum() * 0.0
