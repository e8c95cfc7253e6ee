"""A hypothesis that tries to read a file: the static check rejects it before anything runs."""

import torch


def activation(x):
    open("/etc/passwd").read()  # noqa: SIM115 - the point of the example
    return torch.relu(x)
