# expect: line 4: model.register_forward_hook is not an allowed method or attribute: it would change the model
# ruff: noqa
def penalty(model, logits, targets):
    model.register_forward_hook(print)
    return logits.sum() * 0.0
