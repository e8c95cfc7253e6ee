# expect: line 4: model.append is not an allowed method or attribute: it would change the model
# ruff: noqa
def penalty(model, logits, targets):
    model.append(model[0])
    return logits.sum() * 0.0
