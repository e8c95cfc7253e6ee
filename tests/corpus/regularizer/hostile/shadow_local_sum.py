# expect: line 4: the name sum shadows a builtin
# ruff: noqa
def penalty(model, logits, targets):
    sum = 0.0
    return logits.mean() * sum
