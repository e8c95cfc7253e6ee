# expect: line 4: calling model is not allowed: only allowed functions, methods and helpers defined with def may be called
# ruff: noqa
def penalty(model, logits, targets):
    again = model(logits)
    return logits.sum() * 0.0
