# expect: line 4: print is not an allowed builtin
# ruff: noqa
def penalty(model, logits, targets):
    print(logits)
    return logits.sum() * 0.0
