# expect: line 4: model.state_dict is not an allowed method or attribute: it would change the model
# ruff: noqa
def penalty(model, logits, targets):
    weights = model.state_dict()
    return logits.sum() * 0.0
