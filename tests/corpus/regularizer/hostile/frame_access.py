# expect: line 4: (...).gi_frame is not an allowed method or attribute
# ruff: noqa
def penalty(model, logits, targets):
    frame = (p for p in model.parameters()).gi_frame
    return frame.f_back.f_globals["loss"]
