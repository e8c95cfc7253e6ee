# expect: line 7: nonlocal is not allowed
# ruff: noqa
def penalty(model, logits, targets):
    count = 0

    def bump():
        nonlocal count
        count = count + 1

    return logits.sum() * 0.0
