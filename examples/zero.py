"""A degenerate hypothesis: constant zero. The property check rejects it."""


def activation(x):
    return x * 0
