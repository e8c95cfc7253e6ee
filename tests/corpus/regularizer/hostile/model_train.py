# expect: line 4: model.train is not an allowed method or attribute: it would change the model
# ruff: noqa
def penalty(model, logits, targets):
    model.train(False)
    return logits.sum() * 0.0
