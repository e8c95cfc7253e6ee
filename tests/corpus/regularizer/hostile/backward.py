# expect: line 4: (...).backward is not an allowed method or attribute: it would change the model
# ruff: noqa
def penalty(model, logits, targets):
    logits.sum().backward()
    return logits.sum() * 0.0
