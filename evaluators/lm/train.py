"""Experiment template: a character-level transformer language model after nanoGPT, small
enough for one CPU core, trained on Shakespeare's plays and scored in bits per character on
held-out text.

In a campaign only the code between ``# >>> EDIT <name>`` and ``# <<< EDIT <name>`` changes, by
SEARCH/REPLACE edits; the rest (the context length, the batch, the training loop, the
predictions, the parameter count) is fixed. The harness calls ``train_and_predict`` in the
sandbox and scores the per-position log-probabilities it returns on the host, against held-out
characters the container holds only as the rows' inputs: a model must predict each position from
the characters up to it. The host mixes in copies of some rows with another text from a drawn
position on; positions before it must come out exactly as in the original, or the run is refused.

The blocks run in this process, beside the fixed part, so the fixed part trusts the names it
uses because the host's static check guarantees that no block rebinds them or reaches torch
beyond an allowlist; ``template_fixed`` (the kind's trusted code) counts the parameters, watches
training and guards every prediction.
"""

import math  # noqa: F401  (for the blocks: math.sqrt, math.pi, ...)

import numpy as np
import template_fixed
import torch
import torch.nn.functional as F
from torch import nn

# ---- fixed: the data's shape and the compute per step (a budget, not a hyperparameter) ----
CONTEXT = 64  # characters a row holds; the positions a model predicts per row
BATCH = 16  # training rows per step
CHECKPOINTS = 4  # evaluations, each on held-out rows of its own, after each quarter of training

# >>> EDIT hyperparameters
MAX_POSITIONS = 64  # position embeddings: the fixed part's rows hold CONTEXT = 64 characters
D_MODEL = 64
N_HEADS = 4
N_LAYERS = 2
MLP_RATIO = 4
LR = 3e-3
WEIGHT_DECAY = 0.1
BETA1 = 0.9
BETA2 = 0.99
# <<< EDIT hyperparameters


# >>> EDIT model
class SelfAttention(nn.Module):
    """Causal multi-head self-attention: position t attends to positions 0..t only."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x):
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        # [batch, length, width] -> [batch, heads, length, width / heads]
        q = q.view(batch, length, N_HEADS, width // N_HEADS).transpose(1, 2)
        k = k.view(batch, length, N_HEADS, width // N_HEADS).transpose(1, 2)
        v = v.view(batch, length, N_HEADS, width // N_HEADS).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, then an MLP, each on a residual path."""

    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D_MODEL)
        self.attn = SelfAttention()
        self.norm2 = nn.LayerNorm(D_MODEL)
        hidden = MLP_RATIO * D_MODEL
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, hidden), nn.GELU(), nn.Linear(hidden, D_MODEL))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    """Characters [batch, length <= MAX_POSITIONS] -> logits of the next character [batch, length,
    vocab]: token and learned position embeddings, N_LAYERS blocks, a final norm, a linear head."""

    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, D_MODEL)
        self.position = nn.Embedding(MAX_POSITIONS, D_MODEL)
        self.blocks = nn.ModuleList([Block() for _ in range(N_LAYERS)])
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, vocab)

    def forward(self, tokens):
        places = torch.arange(tokens.shape[1])
        x = self.embed(tokens) + self.position(places)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


# <<< EDIT model


# >>> EDIT optimizer
def make_optimizer(model):
    """AdamW, weight decay on the matrices only (nanoGPT's grouping)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": WEIGHT_DECAY},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2))


# <<< EDIT optimizer


# >>> EDIT loss
def loss_fn(logits, targets, model):
    """The training loss of one batch: logits [batch, CONTEXT, vocab], targets [batch, CONTEXT]."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# <<< EDIT loss

# ---- fixed from here on: the training loop, the predictions, the parameter count ----


def batch_at(text, generator):
    """BATCH random windows of CONTEXT + 1 characters of the training text: inputs, targets."""
    starts = torch.randint(0, len(text) - CONTEXT, (BATCH,), generator=generator)
    rows = text[starts[:, None] + torch.arange(CONTEXT + 1)[None, :]]
    return rows[:, :-1], rows[:, 1:]


def predict_rows(model, rows, script):
    """Log-probabilities [rows * CONTEXT, vocab] of each row's positions, one row per call of
    the model (so that no row sees another), each call guarded: the model may change nothing it
    can reach while it predicts (no memory of what it was shown)."""
    model.eval()
    out = []
    for row in rows:
        logits = template_fixed.guarded(model, lambda r=row: model(r[None, :]), script)
        if logits.shape[:2] != (1, CONTEXT) or not torch.isfinite(logits).all():
            shape = list(logits.shape)
            raise FloatingPointError(f"the model gave {shape} non-finite or odd logits")
        out.append(F.log_softmax(logits[0].float(), dim=-1))
    model.train()
    return torch.cat(out).numpy().astype(np.float32)


def train_and_predict(inputs, rung, seed, checks):
    """Train for ``rung["steps"]`` steps on random windows of ``inputs["tokens_train"]``; after
    each quarter of them, predict that checkpoint's held-out rows (``inputs["x_eval"]``
    [CHECKPOINTS, rows, CONTEXT]). Returns {"logprobs": [CHECKPOINTS * rows * CONTEXT, vocab]}
    and the parameter count. ``checks["steps"]``: steps the host drew for Watch's full check."""
    script = train_and_predict.__globals__
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    text = torch.as_tensor(inputs["tokens_train"].astype(np.int64))
    rows = torch.as_tensor(inputs["x_eval"].astype(np.int64))
    steps = int(rung["steps"])
    model = Model(int(inputs["vocab"]))
    optimizer = make_optimizer(model)
    watch = template_fixed.Watch(model, optimizer, checks.get("steps", ()), script)
    marks = [(c + 1) * steps // CHECKPOINTS for c in range(CHECKPOINTS)]
    predictions = []
    for step in range(steps + 1):
        for c in [c for c, mark in enumerate(marks) if mark == step]:
            watch.after_step(step, full=True)
            predictions.append(predict_rows(model, rows[c], script))
        if step == steps:
            break
        x, y = batch_at(text, generator)
        model.train()
        watch.before_step(step)
        loss = loss_fn(model(x), y, model)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss is {loss.item()} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        watch.after_backward()
        optimizer.step()
        watch.after_step(step)
    n_params = template_fixed.count_parameters(model, optimizer, script)
    return {"logprobs": np.concatenate(predictions)}, n_params
