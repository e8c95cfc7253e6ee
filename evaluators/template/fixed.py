"""The fixed part's machinery for template tasks. Runs INSIDE the container, mounted as
``/hf/code/template_fixed.py``; trusted code: stdlib, numpy and torch only, no hypoforge.

A template's fixed part (outside its editable blocks) imports this module and calls it with the
script's globals (``train_and_predict.__globals__``), which is where the blocks' objects live:

- ``count_parameters(model, optimizer, script)``: every tensor reachable from the model, the
  optimizer and the script, each once, less the optimizer's moments, plus the numbers the model
  and the optimizer hold outside tensors.
- ``Watch(model, optimizer, watched, script)``: training changes only what the optimizer trains
  (write counts read at every step; everything compared in full at the steps the host drew).
- ``guarded(model, fn, script)``: ``fn()`` under no_grad, refused if anything reachable changed.
- ``RuleBroken``: a broken rule (the runner reports it as a failed check).

This is grokking's fixed machinery (``evaluators/grokking/train.py``) with the script passed in
rather than read from the module it sits in. The blocks cannot name this module or rebind what
the fixed part took from it (``evaluators.template.check``); the walk stops at modules, foreign
classes and functions, so nothing here is counted or compared as the blocks' state.
"""

from __future__ import annotations

import types
from gc import get_referents

import numpy as np
import torch
from torch import nn

MAX_OBJECTS = 200_000  # more objects than that reachable from a small model is no honest model
TENSOR = torch.Tensor  # Tensor's own methods, called unbound: a subclass could redefine them
SCALARS = (int, float, bool, str, bytes, complex, type(None))
NUMBERS = (float, bool, complex)


class RuleBroken(FloatingPointError):
    """A block changed what only the optimizer's step may change, or predicting changed state."""


def count_parameters(model, optimizer, script):
    """Every number the model holds or training may change: each tensor and array reachable from
    the model, the optimizer and the script once, less the optimizer's own state, and every
    number the model and the optimizer hold in Python objects made since the script loaded."""
    order = reachable([model, optimizer, script], script, optimizer)
    tensors = sum(TENSOR.numel(t) for t in order if isinstance(t, torch.Tensor))
    arrays = sum(a.size for a in order if isinstance(a, np.ndarray))
    return int(tensors + arrays + outside_tensors(model, optimizer, script))


def outside_tensors(model, optimizer, script):
    """Numbers the model and the optimizer hold outside tensors: an int per 32 bits, a float or
    bool each, a number per 8 characters of a string; not the script's own constants nor what
    torch keeps of its own (a layer's sizes, the optimizer's hyperparameters)."""
    loaded = {id(o) for o in reachable([script], script)}
    objects = reachable([model, optimizer], script, optimizer)
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
        if obj.__class__ is str or obj.__class__ is bytes:
            total += len(obj) // 8
            continue
        total += sum(number(ref) for ref in get_referents(obj))
    return total


def number(value):
    """How many numbers ``value`` is: 1 for a float or bool, one per 32 bits of an int, else 0."""
    if value.__class__ is int:
        return 1 + abs(value).bit_length() // 32
    return 1 if value.__class__ in NUMBERS else 0


def reachable(roots, script, optimizer=None):
    """Every object reachable from ``roots``, each once, in an order fixed by what they hold,
    through every reference the garbage collector sees. The walk stops at modules, the script's
    builtins, classes and functions that are not the script's, and the optimizer's state of its
    own parameters; it refuses iterators (``RuleBroken``): no reference shows their position."""
    state = optimizer.state if optimizer is not None else {}
    trained = {id(p) for p in trained_parameters(optimizer)}
    name, builtins = script.get("__name__"), script.get("__builtins__")
    seen, order, stack, iterating = {}, [], list(roots)[::-1], {}
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj  # held, so that no id is reused while the walk goes on
        if len(seen) > MAX_OBJECTS:
            raise RuleBroken(f"the model or the blocks hold more than {MAX_OBJECTS} objects")
        if isinstance(obj, types.ModuleType) or obj is builtins:
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
        foreign_class = isinstance(obj, type) and obj.__module__ != name
        if foreign_class or (isinstance(obj, types.FunctionType) and obj.__globals__ is not script):
            continue
        stack.extend(get_referents(obj)[::-1])
    return order


def iterates(kind):
    """Whether objects of ``kind`` are iterators or generators."""
    return any("__next__" in k.__dict__ or "send" in k.__dict__ for k in kind.__mro__)


def trained_parameters(optimizer):
    """The tensors the optimizer trains (none for no optimizer)."""
    groups = optimizer.param_groups if optimizer is not None else []
    return [p for g in groups for p in g["params"]]


def snapshot(roots, script, optimizer=None, skip=()):
    """Everything reachable from ``roots``: the objects in walk order, and each tensor (but those
    in ``skip``) with a copy of its values and its in-place write count, each array copied."""
    order = reachable(roots, script, optimizer)
    skipped = {id(t) for t in skip}
    with torch.no_grad():
        tensors = [
            (t, TENSOR.clone(t), t._version)
            for t in order
            if isinstance(t, torch.Tensor) and id(t) not in skipped
        ]
    arrays = [(a, a.copy()) for a in order if isinstance(a, np.ndarray)]
    return order, tensors, arrays


def what_changed(before, roots, script, optimizer=None):
    """What differs from the snapshot ``before`` (None: nothing): words for an object added,
    removed or replaced, or the tensor or array that was written."""
    order, tensors, arrays = before
    now = reachable(roots, script, optimizer)
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
    """Equal values, a NaN equal to a NaN."""
    with torch.no_grad():
        if t.dtype != copy.dtype:
            return False
        equal = TENSOR.eq(t, copy) | (TENSOR.isnan(t) & TENSOR.isnan(copy))
        return bool(TENSOR.all(equal))


def guarded(model, fn, script):
    """``fn()`` with the model in eval mode and gradients off; ``RuleBroken`` if anything
    reachable from the model or the script changed meanwhile (with gradients off a block could
    write its tensors in place unseen)."""
    model.eval()
    with torch.no_grad():
        before = snapshot([model, script], script)
        result = fn()
        what = what_changed(before, [model, script], script)
    if what is not None:
        what = describe_change(what, model)
        raise RuleBroken(f"the model changed its own state while predicting: {what}")
    return result


class Watch:
    """Training changes only what the optimizer trains. Everything reachable from the model, the
    optimizer and the script but the optimizer's parameters (and views of them) and state is
    held still from the first step on: write counts read at every step, values and the whole
    object graph compared at the steps the host drew (``watched``) and at full checks; at those
    steps the parameters too must come through the forward pass, the loss and backward
    unchanged (their write counts and values are read at every step)."""

    def __init__(self, model, optimizer, watched, script):
        self.model, self.optimizer, self.script = model, optimizer, script
        self.watched = {int(s) for s in watched}
        self.roots = [model, optimizer, script]
        self.trained = trained_parameters(optimizer)
        trained_memory = {p.untyped_storage().data_ptr() for p in self.trained}
        views = [
            t
            for t in reachable(self.roots, script, optimizer)
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in trained_memory
        ]
        self.start = snapshot(self.roots, script, optimizer, self.trained + views)
        self.versions = [v for _, _, v in self.start[1]]
        self.deep, self.trained_versions, self.trained_values = None, [], []

    def before_step(self, step):
        """Before a training step's forward pass."""
        watched = step in self.watched
        self.deep = snapshot(self.roots, self.script, self.optimizer) if watched else None
        self.trained_versions = [p._version for p in self.trained]
        with torch.no_grad():
            self.trained_values = [TENSOR.clone(p) for p in self.trained]

    def after_backward(self):
        """Nothing, not even a parameter, changed in the forward pass, the loss or backward."""
        when = "while the loss and its gradients were computed"
        for p, v, copy in zip(
            self.trained, self.trained_versions, self.trained_values, strict=True
        ):
            if p._version != v or p.shape != copy.shape or not same_values(p, copy):
                self.fail(p, when)
        if self.deep is not None:
            self.fail(what_changed(self.deep, self.roots, self.script, self.optimizer), when)

    def after_step(self, step, full=False):
        """After the optimizer's step (and before any predictions): what the optimizer does not
        train is as it was before the first step."""
        for (t, _, _), v in zip(self.start[1], self.versions, strict=True):
            if t._version != v:
                self.fail(t, "in a training step")
        if full or step in self.watched:
            changed = what_changed(self.start, self.roots, self.script, self.optimizer)
            self.fail(changed, "in a training step")

    def fail(self, what, when):
        """Raise ``RuleBroken`` for ``what`` (None: nothing changed)."""
        if what is None:
            return
        hint = ""
        if not isinstance(what, str) and any(what is b for b in self.model.buffers()):
            hint = " (running statistics such as BatchNorm's are state: track_running_stats=False)"
        what = describe_change(what, self.model)
        raise RuleBroken(
            f"training changed {what} {when}; while training, only the optimizer's step may "
            f"change anything, and only the parameters it trains{hint}"
        )


def describe_change(what, model):
    """Words for what changed, named if the model registers it."""
    if isinstance(what, str):
        return what
    names = [*model.named_parameters(), *model.named_buffers()]
    name = [n for n, t in names if t is what]
    kind = "an array" if isinstance(what, np.ndarray) else "a tensor"
    return f"{kind} of shape {list(what.shape)}" + (f" ({name[0]})" if name else "")
