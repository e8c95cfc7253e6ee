import torch


def activation(x):
    # Almost linear: a network of such layers is close to one linear map.
    return x + 0.05 * torch.tanh(x)
