# expect: line 5: p.untyped_storage is not an allowed method or attribute: it reaches global state or files
# ruff: noqa
def penalty(model, logits, targets):
    for p in model.parameters():
        raw = p.untyped_storage()
    return logits.sum() * 0.0
