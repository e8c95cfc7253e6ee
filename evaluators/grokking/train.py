"""Experiment template: a tiny transformer learns modular addition; how soon it generalises to
the held-out pairs ("groks") is the measure.

A template task (``evaluators.template``): only the code between ``# >>> EDIT <name>`` and
``# <<< EDIT <name>`` changes, by SEARCH/REPLACE edits; the rest (the training loop, the
predictions, the parameter count) is fixed. The harness calls ``train_and_predict`` in the
sandbox and scores the predictions on the host, with answers that never enter the container.

The blocks run in this process, beside the fixed part, so the fixed part trusts the names it
uses (builtins, torch, ``template_fixed``, its own functions) because the host's static check
guarantees that no block rebinds them: a block may not bind any builtin's or fixed name, set
attributes of anything but ``self`` in ``__init__``, or reach torch beyond an allowlist. The
machinery that watches training, guards the predictions and counts the parameters is the kind's
(``template_fixed``, mounted beside this script).
"""

import math  # noqa: F401  (for the blocks: math.sqrt, math.pi, ...)

import numpy as np
import template_fixed
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
STEPS = 2000  # data.STEPS: the one-pass rung's steps, which a split's own step count scales


def predict(model, tokens, script):
    """The predicted answers for ``tokens`` (the host compares them with the true ones), under
    ``template_fixed.guarded``: the model may change nothing it can reach while it predicts."""
    logits = template_fixed.guarded(model, lambda: model(tokens), script)
    if logits.shape != (len(tokens), logits.shape[-1]) or not torch.isfinite(logits).all():
        raise FloatingPointError(f"the model gave {list(logits.shape)} non-finite or odd logits")
    return logits.argmax(dim=1).numpy().astype(np.int16)


def train_and_predict(inputs, rung, seed, checks):
    """Full-batch training on ``inputs["x_train"]``, ``inputs["y_train"]`` for the rung's steps
    (scaled by the split's own step count against ``STEPS``). Returns the predicted answers for
    ``inputs["x_test"]`` at CHECKPOINTS + 1 evenly spaced steps, the first and the last
    included (``{"labels": int16[CHECKPOINTS + 1, n]}``), and the parameter count.
    ``checks["steps"]``: training steps the host drew for the full check of ``Watch``."""
    script = train_and_predict.__globals__
    steps = int(rung["steps"]) * int(inputs["steps"]) // STEPS
    vocab = int(inputs["n_classes"]) + 1  # the answers, and "="
    torch.manual_seed(seed)
    model = Model(vocab)
    optimizer = make_optimizer(model)
    xs, ys, xe = (
        torch.as_tensor(inputs[k], dtype=torch.long) for k in ("x_train", "y_train", "x_test")
    )
    marks = [round(i * steps / CHECKPOINTS) for i in range(CHECKPOINTS + 1)]
    predictions = []
    watch = template_fixed.Watch(model, optimizer, checks.get("steps", ()), script)
    for step in range(steps + 1):
        if step in marks:
            watch.after_step(step, full=True)
            predictions.extend([predict(model, xe, script)] * marks.count(step))
        if step == steps:
            break
        model.train()
        watch.before_step(step)
        loss = loss_fn(model(xs), ys, model)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss is {loss.item()} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        watch.after_backward()
        optimizer.step()
        watch.after_step(step)
    labels = np.stack(predictions)
    return {"labels": labels}, template_fixed.count_parameters(model, optimizer, script)
