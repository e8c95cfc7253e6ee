# expect: line 4: logits.data_ptr is not an allowed method or attribute: it reaches global state or files
# ruff: noqa
def penalty(model, logits, targets):
    address = logits.data_ptr()
    return logits.sum() * 0.0
