"""Experiment template: a tiny transformer learns modular addition; how soon it generalises to
the held-out pairs ("groks") is the measure.

Run it alone (``python train.py``) to train once on a + b mod 31 and print the held-out accuracy
as training goes. In a campaign only the code between ``# >>> EDIT <name>`` and
``# <<< EDIT <name>`` changes, by SEARCH/REPLACE edits; the rest (the training loop, the
predictions, the parameter count) is fixed. The harness calls ``train_and_predict`` and scores the
predictions on the host, with answers that never enter the container.

The blocks run in this process, beside the fixed part, so the fixed part trusts the names it
uses (builtins, torch, its own functions) because the host's static check guarantees that no
block rebinds them: a block may not bind any builtin's or fixed name, set attributes of anything
but ``self`` in ``__init__``, or reach torch beyond an allowlist. In the sandbox the script runs
with a few builtins and modules only (the runner's), so the fixed part imports no more than these.
"""

import math  # noqa: F401  (for the blocks: math.sqrt, math.pi, ...)
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# >>> EDIT hyperparameters
D_MODEL = 32
N_HEADS = 4
N_LAYERS = 1
MLP_RATIO = 4
LR = 3e-3
WEIGHT_DECAY = 1.0
BETA1 = 0.9
BETA2 = 0.98
LR_SCALE_EMBED = 1.0
LR_SCALE_BLOCKS = 1.0
LR_SCALE_HEAD = 1.0
# <<< EDIT hyperparameters


# >>> EDIT model
class Block(nn.Module):
    """Pre-norm transformer block: self-attention, then an MLP."""

    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D_MODEL)
        self.attn = nn.MultiheadAttention(D_MODEL, N_HEADS, batch_first=True)
        self.norm2 = nn.LayerNorm(D_MODEL)
        hidden = MLP_RATIO * D_MODEL
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, hidden), nn.GELU(), nn.Linear(hidden, D_MODEL))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    """Tokens [batch, 3] (a, b, "=") -> logits over the answer [batch, vocab - 1]."""

    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, D_MODEL)
        self.position = nn.Parameter(0.02 * torch.randn(3, D_MODEL))
        self.blocks = nn.ModuleList([Block() for _ in range(N_LAYERS)])
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, vocab - 1)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -1]))


# <<< EDIT model


# >>> EDIT optimizer
def make_optimizer(model):
    """AdamW with one learning rate per part: embeddings, blocks, output head."""
    groups = [
        {"params": [model.embed.weight, model.position], "lr": LR * LR_SCALE_EMBED},
        {"params": list(model.blocks.parameters()), "lr": LR * LR_SCALE_BLOCKS},
        {"params": [*model.norm.parameters(), *model.head.parameters()], "lr": LR * LR_SCALE_HEAD},
    ]
    return torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY, betas=(BETA1, BETA2))


# <<< EDIT optimizer


# >>> EDIT loss
def loss_fn(logits, targets, model):
    """The training loss of one full batch."""
    return F.cross_entropy(logits, targets)


# <<< EDIT loss

# ---- fixed from here on: the training loop, the predictions, the parameter count ----
CHECKPOINTS = 40


MAX_OBJECTS = 100_000  # more objects than that reachable from a tiny model is no honest model


def count_parameters(model, optimizer):
    """Every number the model holds or training may change, each tensor counted once: every
    tensor reachable from the model (registered or not) and in the optimizer's parameter groups."""
    tensors = reachable_tensors([model, optimizer.param_groups])
    return int(sum(t.numel() for t in tensors))


def reachable_tensors(roots):
    """Each tensor reachable from ``roots`` once: through modules, lists, tuples, dicts, sets, the
    script's own objects and bound methods (a walk with a visited set and a bound)."""
    seen, tensors, stack = {}, {}, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj  # held, so that no id is reused while the walk goes on
        if len(seen) > MAX_OBJECTS:
            raise ValueError(f"the model holds more than {MAX_OBJECTS} objects")
        kind = obj.__class__
        if isinstance(obj, torch.Tensor):
            tensors[id(obj)] = obj
            stack.extend(vars(obj).values())
        elif isinstance(obj, dict):
            stack.extend([*obj.keys(), *obj.values()])
        elif isinstance(obj, list | tuple) or kind is SET:
            stack.extend(obj)
        elif kind is BOUND_METHOD:
            stack.append(obj.__self__)
        elif isinstance(obj, nn.Module) or kind.__module__ == __name__:
            stack.extend(vars(obj).values())
    return list(tensors.values())


# The kinds of object the count walks into, got without builtins or imports (the runner gives
# the script few of either): sets and bound methods.
SET = {0}.__class__
BOUND_METHOD = count_parameters.__get__(0).__class__


def predict(model, tokens):
    """The predicted answers for ``tokens`` (the host compares them with the true ones). The
    model may not change its own tensors while it predicts (gradients are off here, so that is
    the one place where a block could write them in place unseen)."""
    model.eval()
    with torch.no_grad():
        before = [(t, t.clone()) for t in reachable_tensors([model])]
        logits = model(tokens)
        if not all(t.shape == c.shape and torch.equal(t, c) for t, c in before):
            raise FloatingPointError("the model changed its own tensors while predicting")
    if logits.shape != (len(tokens), logits.shape[-1]) or not torch.isfinite(logits).all():
        raise FloatingPointError(f"the model gave {list(logits.shape)} non-finite or odd logits")
    return logits.argmax(dim=1).numpy().astype(np.int16)


def train_and_predict(x_train, y_train, x_eval, vocab, steps, seed):
    """Full-batch training for ``steps`` steps. Returns the predictions for ``x_eval`` at
    CHECKPOINTS + 1 evenly spaced steps, the first and the last included, and the parameter
    count."""
    torch.manual_seed(seed)
    model = Model(vocab)
    optimizer = make_optimizer(model)
    xs, ys, xe = (torch.as_tensor(a, dtype=torch.long) for a in (x_train, y_train, x_eval))
    marks = [round(i * steps / CHECKPOINTS) for i in range(CHECKPOINTS + 1)]
    predictions = []
    for step in range(steps + 1):
        if step in marks:
            predictions.extend([predict(model, xe)] * marks.count(step))
        if step == steps:
            break
        model.train()
        loss = loss_fn(model(xs), ys, model)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss is {loss.item()} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return np.stack(predictions), count_parameters(model, optimizer)


def modular_addition(p, seed, train_fraction=0.5):
    """All pairs (a, b) of a + b mod p with tokens renamed by a random permutation, split in two."""
    rng = np.random.default_rng(seed)
    a, b = (g.ravel() for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    rename = rng.permutation(p)
    x = np.stack([rename[a], rename[b], np.full_like(a, p)], axis=1)
    y = rename[(a + b) % p]
    order = rng.permutation(len(y))
    cut = int(train_fraction * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def main(argv):
    """Train once on a + b mod 31 and print the held-out accuracy as training goes."""
    steps = int(argv[1]) if len(argv) > 1 else 2000
    torch.set_num_threads(1)
    x_tr, y_tr, x_ev, y_ev = modular_addition(31, seed=0)
    curve, n_params = train_and_predict(x_tr, y_tr, x_ev, 32, steps, seed=0)
    for i, guess in enumerate(curve):
        step = round(i * steps / CHECKPOINTS)
        print(f"step {step:5d}  held-out accuracy {(guess == y_ev).mean():.3f}")
    print(f"{n_params} parameters")


if __name__ == "__main__":
    main(sys.argv)
