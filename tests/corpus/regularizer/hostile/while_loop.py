# expect: line 4: while loops are not allowed: a loop must be a bounded for loop
# ruff: noqa
def penalty(model, logits, targets):
    while True:
        pass
    return logits.sum() * 0.0
