"""A small MLP that classifies sklearn's 8x8 handwritten digits.

An ordinary training script, not written for hypoforge: it loads the data, splits it, trains
with full-batch Adam and prints the test accuracy. `python digits_mlp.py` runs it (a few
seconds on one core). The README shows how `hypoforge task new` turns it into a research task.
"""

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HIDDEN = 64
DEPTH = 2
DROPOUT = 0.1
LR = 3e-3
WEIGHT_DECAY = 1e-4
STEPS = 300


class MLP(nn.Module):
    """Features [batch, n_features] -> class logits [batch, n_classes]."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        layers, width = [], n_features
        for _ in range(DEPTH):
            layers += [nn.Linear(width, HIDDEN), nn.ReLU(), nn.Dropout(DROPOUT)]
            width = HIDDEN
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.head(self.body(x))


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)


def loss_fn(logits, targets):
    return F.cross_entropy(logits, targets)


def train(model, optimizer, x, y, steps):
    for _ in range(steps):
        model.train()
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=args.seed)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    xs = torch.as_tensor(x_train, dtype=torch.float32)
    ys = torch.as_tensor(y_train, dtype=torch.long)
    model = MLP(xs.shape[1], int(y.max()) + 1)
    train(model, make_optimizer(model), xs, ys, STEPS)
    model.eval()
    with torch.no_grad():
        guess = model(torch.as_tensor(x_test, dtype=torch.float32)).argmax(dim=1).numpy()
    print(f"test accuracy {np.mean(guess == y_test):.3f}")


if __name__ == "__main__":
    main()
