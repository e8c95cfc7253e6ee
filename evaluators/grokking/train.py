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
from gc import get_referents

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
# Compared by value, not by identity (str, bytes, complex and None's kind, got without builtins).
TEXT = "".__class__
BYTES = b"".__class__
INT = (0).__class__
NUMBERS = ((0.0).__class__, True.__class__, 1j.__class__)
SCALARS = (int, float, bool, TEXT, BYTES, 1j.__class__, None.__class__)
# Tensor's own methods, called unbound: a subclass of a block's could redefine eq or numel.
TENSOR = torch.Tensor


class RuleBroken(FloatingPointError):
    """A block changed what the optimizer does not train (the runner reports a broken rule)."""


def count_parameters(model, optimizer):
    """Every number the model holds or training may change, each tensor counted once: every
    tensor reachable from the model, the optimizer and the script (registered or not), less the
    optimizer's own state (its moments are not the model's), and every number the model and the
    optimizer hold outside tensors (``outside_tensors``)."""
    order = reachable([model, optimizer, SCRIPT], optimizer)
    # Tensor's own numel, never one a subclass could redefine.
    tensors = sum(TENSOR.numel(t) for t in order if isinstance(t, torch.Tensor))
    arrays = sum(a.size for a in order if isinstance(a, np.ndarray))
    return int(tensors + arrays + outside_tensors(model, optimizer))


def outside_tensors(model, optimizer):
    """Numbers the model and the optimizer hold in Python objects made since the script was
    loaded: each int, float or bool any of them refers to (a list of 480 answers is 480
    numbers; an int counts a number per 32 bits), and a number per 8 characters of a string
    (about what a number written as text takes: a table kept as text). Not counted: the
    script's own constants (bounded by the static check), what torch keeps of its own (a
    layer's sizes and flags, the optimizer's hyperparameters), which training may not change."""
    loaded = {id(o) for o in reachable([SCRIPT])}
    objects = reachable([model, optimizer], optimizer)
    own = {id(o.__dict__) for o in objects if isinstance(o, nn.Module)}
    groups = optimizer.param_groups if optimizer is not None else []
    defaults = optimizer.defaults if optimizer is not None else {}
    own.update([id(defaults), *(id(v) for v in defaults.values())])
    own.update(id(v) for g in groups for k, v in g.items() if k in defaults)
    total = sum(number(v) for g in groups for k, v in g.items() if k not in defaults)
    own.update(id(g) for g in groups)
    for obj in objects:
        if id(obj) in loaded or id(obj) in own:
            continue
        if obj.__class__ is TEXT or obj.__class__ is BYTES:
            total += len(obj) // 8
            continue
        total += sum(number(ref) for ref in get_referents(obj))
    return total


def number(value):
    """How many numbers ``value`` is: 1 for a float or bool, one per 32 bits of an int, else 0."""
    if value.__class__ is INT:
        return 1 + (value if value >= 0 else -value).bit_length() // 32
    return 1 if value.__class__ in NUMBERS else 0


def reachable(roots, optimizer=None):
    """Every object reachable from ``roots``, each once, in an order fixed by what they hold:
    through every reference the garbage collector sees (``get_referents``), so that no kind of
    object a block can build (a slice, a closure, a generator, a class, a hook) hides a tensor.
    The walk stops at modules, the builtins, classes and functions that are not this script's
    (torch's, the runner's: not the blocks' to change) and the optimizer's state of its own
    parameters (which training changes); anything else in that state is walked. It refuses
    iterators (``RuleBroken``): no reference shows their position."""
    state = optimizer.state if optimizer is not None else {}  # (a fresh {}: never reached)
    trained = {id(p) for p in trained_parameters(optimizer)}
    seen, order, stack, iterating = {}, [], list(roots)[::-1], {}
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj  # held, so that no id is reused while the walk goes on
        if len(seen) > MAX_OBJECTS:
            raise RuleBroken(f"the model or the blocks hold more than {MAX_OBJECTS} objects")
        if isinstance(obj, MODULE) or obj is __builtins__:
            continue
        if obj is state:  # the optimizer's moments: not recorded; stray entries are walked
            stray = [(k, v) for k, v in obj.items() if id(k) not in trained]
            stack.extend([x for pair in stray[::-1] for x in pair[::-1]])
            continue
        order.append(obj)
        kind = obj.__class__
        if id(kind) not in iterating:
            iterating[id(kind)] = iterates(kind)
        if iterating[id(kind)]:
            raise RuleBroken(
                f"the model or a block holds an iterator ({kind.__name__}): its position is state "
                "that no check can compare; keep lists, tuples or tensors instead"
            )
        foreign_class = isinstance(obj, TYPE) and obj.__module__ != __name__  # type: ignore[arg-type]
        if foreign_class or (isinstance(obj, FUNCTION) and obj.__globals__ is not SCRIPT):
            continue
        stack.extend(get_referents(obj)[::-1])
    return order


def iterates(kind):
    """Whether objects of ``kind`` are iterators or generators, which keep their position where
    no reference shows it (enumerate, zip, reversed, a generator's next line)."""
    return any("__next__" in k.__dict__ or "send" in k.__dict__ for k in kind.__mro__)


def trained_parameters(optimizer):
    """The tensors the optimizer trains (none for no optimizer)."""
    groups = optimizer.param_groups if optimizer is not None else []
    return [p for g in groups for p in g["params"]]


def snapshot(roots, optimizer=None, skip=()):
    """A snapshot of everything reachable from ``roots``: the objects in walk order, and each
    tensor (but those in ``skip``) with a copy of its values and its in-place write count."""
    order = reachable(roots, optimizer)
    skipped = {id(t) for t in skip}
    with torch.no_grad():
        tensors = [
            (t, TENSOR.clone(t), t._version)
            for t in order
            if isinstance(t, torch.Tensor) and id(t) not in skipped
        ]
    arrays = [(a, a.copy()) for a in order if isinstance(a, np.ndarray)]
    return order, tensors, arrays


def what_changed(before, roots, optimizer=None):
    """What differs from the snapshot ``before`` (None: nothing): words for an object added,
    removed or replaced anywhere in the walk, or the tensor or array that was written."""
    order, tensors, arrays = before
    now = reachable(roots, optimizer)
    same = len(now) == len(order)
    if not (same and all(a is b or same_scalar(a, b) for a, b in zip(now, order, strict=True))):
        return "an object the model or the blocks hold (a container, an attribute, a number)"
    for t, copy, version in tensors:
        if t._version != version or t.shape != copy.shape or not same_values(t, copy):
            return t
    for a, copy in arrays:
        if a.shape != copy.shape or not np.array_equal(a, copy, equal_nan=True):
            return a
    return None


def same_scalar(a, b):
    return a.__class__ is b.__class__ and a.__class__ in SCALARS and a == b


def same_values(t, copy):
    """Equal values, a NaN equal to a NaN (a tensor that holds one is not thereby changed)."""
    with torch.no_grad():
        if t.dtype != copy.dtype:
            return False
        equal = TENSOR.eq(t, copy) | (TENSOR.isnan(t) & TENSOR.isnan(copy))
        return bool(TENSOR.all(equal))


def predict(model, tokens):
    """The predicted answers for ``tokens`` (the host compares them with the true ones). The
    model may not change anything it can reach while it predicts (gradients are off here, so
    that is one place where a block could write its tensors in place unseen)."""
    model.eval()
    with torch.no_grad():
        before = snapshot([model, SCRIPT])
        logits = model(tokens)
        what = what_changed(before, [model, SCRIPT])
    if what is not None:
        what = describe_change(what, model)
        raise RuleBroken(f"the model changed its own tensors while predicting: {what}")
    if logits.shape != (len(tokens), logits.shape[-1]) or not torch.isfinite(logits).all():
        raise FloatingPointError(f"the model gave {list(logits.shape)} non-finite or odd logits")
    return logits.argmax(dim=1).numpy().astype(np.int16)


class Watch:
    """Training changes only what the optimizer trains. Everything reachable from the model,
    the optimizer and the script but the optimizer's parameters and state is held still from
    the first step on: its tensors' in-place write counts are read at every step (cheap, and a
    single write at any step shows), its values and the whole object graph compared at the
    checkpoints and at the steps the host drew (``watched``); at those steps the parameters too
    must come through the forward pass, the loss and the backward pass unchanged (their write
    counts are read at every step). A view of a parameter (``self.tied = self.embed.weight[:n]``)
    is the optimizer's to change, as its parameter is."""

    def __init__(self, model, optimizer, watched):
        self.model, self.optimizer, self.watched = model, optimizer, {int(s) for s in watched}
        self.roots = [model, optimizer, SCRIPT]
        self.trained = trained_parameters(optimizer)
        trained_memory = {p.untyped_storage().data_ptr() for p in self.trained}
        views = [
            t
            for t in reachable(self.roots, optimizer)
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in trained_memory
        ]
        self.start = snapshot(self.roots, optimizer, self.trained + views)
        self.versions = [v for _, _, v in self.start[1]]
        self.deep, self.trained_versions, self.trained_values = None, [], []

    def before_step(self, step):
        """Before a training step's forward pass (the model is in training mode)."""
        self.deep = snapshot(self.roots, self.optimizer) if step in self.watched else None
        self.trained_versions = [p._version for p in self.trained]
        with torch.no_grad():  # the parameters are small: their values, at every step
            self.trained_values = [TENSOR.clone(p) for p in self.trained]

    def after_backward(self):
        """Nothing, not even a parameter, changes in the forward pass, the loss or backward:
        neither a write count nor a value (``module.to(dtype)`` and back swaps a parameter's
        values without counting a write)."""
        when = "while the loss and its gradients were computed"
        for p, v, copy in zip(
            self.trained, self.trained_versions, self.trained_values, strict=True
        ):
            if p._version != v or p.shape != copy.shape or not same_values(p, copy):
                self.fail(p, when)
        if self.deep is not None:
            self.fail(what_changed(self.deep, self.roots, self.optimizer), when)

    def after_step(self, step, full=False):
        """After the optimizer's step (and before each checkpoint's predictions): what the
        optimizer does not train is as it was before the first step."""
        for (t, _, _), v in zip(self.start[1], self.versions, strict=True):
            if t._version != v:
                self.fail(t, "in a training step")
        if full or step in self.watched:
            self.fail(what_changed(self.start, self.roots, self.optimizer), "in a training step")

    def fail(self, what, when):
        """Raise ``RuleBroken`` for ``what`` (None: nothing changed)."""
        if what is None:
            return
        hint = ""
        if not isinstance(what, TEXT) and any(what is b for b in self.model.buffers()):
            hint = " (running statistics such as BatchNorm's are state: track_running_stats=False)"
        what = describe_change(what, self.model)
        raise RuleBroken(
            f"training changed {what} {when}; while training, only the optimizer's step may "
            f"change anything, and only the parameters it trains{hint}"
        )


def describe_change(what, model):
    """Words for what changed: a string already, or a tensor or array, named if the model
    registers it."""
    if isinstance(what, TEXT):
        return what
    names = [*model.named_parameters(), *model.named_buffers()]
    name = [n for n, t in names if t is what]
    kind = "an array" if isinstance(what, np.ndarray) else "a tensor"
    return f"{kind} of shape {list(what.shape)}" + (f" ({name[0]})" if name else "")


def train_and_predict(x_train, y_train, x_eval, vocab, steps, seed, watched=()):
    """Full-batch training for ``steps`` steps. Returns the predictions for ``x_eval`` at
    CHECKPOINTS + 1 evenly spaced steps, the first and the last included, and the parameter
    count. ``watched``: training steps the host drew for the full check of ``Watch``."""
    torch.manual_seed(seed)
    model = Model(vocab)
    optimizer = make_optimizer(model)
    xs, ys, xe = (torch.as_tensor(a, dtype=torch.long) for a in (x_train, y_train, x_eval))
    marks = [round(i * steps / CHECKPOINTS) for i in range(CHECKPOINTS + 1)]
    predictions = []
    watch = Watch(model, optimizer, watched)
    for step in range(steps + 1):
        if step in marks:
            watch.after_step(step, full=True)
            predictions.extend([predict(model, xe)] * marks.count(step))
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
    return np.stack(predictions), count_parameters(model, optimizer)


# The kinds of object the walk stops at, got without builtins or imports (the runner gives the
# script few of either): modules, classes, functions; and the script's own namespace.
MODULE = torch.__class__
TYPE = MODULE.__class__  # type (mypy reads it as an overload)
FUNCTION = predict.__class__
SCRIPT = predict.__globals__


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
