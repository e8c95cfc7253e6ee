# expect: line 4: exec is not an allowed builtin
# ruff: noqa
def penalty(model, logits, targets):
    run = exec
    return logits.sum() * 0.0
