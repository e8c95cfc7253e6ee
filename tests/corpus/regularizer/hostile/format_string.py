# expect: line 4: (...).format is not an allowed method or attribute
# ruff: noqa
def penalty(model, logits, targets):
    text = "{0.__class__.__init__.__globals__}".format(model)
    return logits.sum() * 0.0
