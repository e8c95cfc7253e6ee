import torch


def activation(x):
    return torch.sigmoid(x)
