"""``hypoforge task new``: a plain training script made into a template task folder.

The script is copied as ``train.py`` with editable blocks marked (``# >>> EDIT <name>`` ...
``# <<< EDIT <name>``, ``evaluators.edits``), where the user says (``--blocks name=START-END``,
line ranges of the script) or where a first guess puts them (``guess_blocks``):

- ``hyperparameters``: the longest run of top-level UPPER_CASE constants (no calls);
- ``model``: the run of ``nn.Module`` classes that holds the last one (the model itself);
- ``optimizer``: a top-level function without loops that builds a ``torch.optim`` optimizer;
- ``loss``: a top-level function without loops named like a loss or returning one of
  ``torch.nn.functional``'s losses.

Beside it: a fixed entry point ``train_and_predict(inputs, rung, seed, checks)`` where the script
has none (a wrapper over the guessed names, with TODO lines), ``data.py`` (for a script that loads
one of sklearn's small datasets, a working one: the rows re-split per seed from the secret; else
a stub to fill in), ``task.toml`` (kind ``template``, the metric chosen from the list),
``description.md`` and ``baselines/template.edits``. Imports the sandbox does not give out
(sklearn, argparse...) are commented out in ``train.py``: its data come from ``data.py``.

Nothing here runs the script. ``create`` never writes into an existing folder; everything it
guessed and everything the user must check comes back as ``Note`` lines naming a line of the
script (``script:N`` from ``guess`` and ``mark``, the script's file name from ``create``) or of
the new ``train.py`` (``train.py:N``).
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from evaluators.edits import blocks

# What the sandbox's import gives out to every template script (runner_loop.MODULES); a task may
# add modules in task.toml's [template] modules.
SANDBOX_MODULES = ("math", "numpy", "torch", "torch.nn", "torch.nn.functional")
FIXED_MODULES = ("template_fixed",)  # the kind's trusted helpers, mounted beside the script
NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
BLOCK_OPTION = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(\d+)\s*-\s*(\d+)\s*$")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
DEFAULT_METRIC = "accuracy"
# The rungs task new writes, in steps of full-batch training (the user's own units after).
RUNGS = (("one-pass", 100, 90), ("short", 300, 240), ("full", 900, 700))
# sklearn's small built-in datasets (no download): loader -> (short name, kind of target).
SKLEARN = {
    "load_digits": ("digits", "classes"),
    "load_wine": ("wine", "classes"),
    "load_iris": ("iris", "classes"),
    "load_breast_cancer": ("breast_cancer", "classes"),
    "load_diabetes": ("diabetes", "values"),
}
LOSSES = re.compile(r"(loss|cross_entropy|nll|hinge|kl_div)", re.IGNORECASE)
IN_NAMES = re.compile(r"(^|_)(in|input|inputs|features|feature|dim_in|d_in|n_in)(_|$)", re.I)
OUT_NAMES = re.compile(r"(^|_)(out|output|outputs|classes|labels|targets|dim_out|d_out)(_|$)", re.I)


@dataclass(frozen=True)
class Span:
    """An editable block: lines ``first``..``last`` of the user's script (1-based, inclusive)."""

    name: str
    first: int
    last: int
    why: str = "given with --blocks"
    defines: str | None = None  # the name the block must define (task.toml's required)


@dataclass(frozen=True)
class Note:
    """One line of what ``task new`` guessed or what the user must check. ``where`` is a file
    and line (``train.py:12``) or a file alone."""

    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


@dataclass
class Guess:
    """What the script's syntax tree says: blocks, the names the wrapper calls, its dataset."""

    spans: list[Span] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    model: str | None = None
    model_args: list[str] = field(default_factory=list)  # required __init__ parameters
    optimizer: str | None = None
    optimizer_arg: str = "model"  # what the optimizer function takes: model or its parameters
    loss: str | None = None
    loss_arity: int = 2
    entry: ast.FunctionDef | None = None  # the script's own train_and_predict
    dataset: str | None = None  # an sklearn loader the script calls


@dataclass(frozen=True)
class Created:
    """What ``create`` wrote and what the user must check."""

    folder: Path
    spans: list[Span]
    notes: list[Note]


# -- reading the script ----------------------------------------------------------------------------
def parse(source: str, label: str = "script") -> ast.Module:
    """The script's syntax tree; ``ConfigError`` naming the line for a script that is not Python."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"{label}:{exc.lineno or 0}: not valid Python: {exc.msg}") from None


def statement_spans(tree: ast.Module) -> list[tuple[int, int, ast.stmt]]:
    """Each top-level statement's lines (decorators included), 1-based and inclusive."""
    out = []
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        out.append((first, node.end_lineno or node.lineno, node))
    return out


def _dotted(node: ast.expr) -> str:
    """``torch.optim.Adam`` for an attribute chain, ``""`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _calls(node: ast.AST) -> list[str]:
    return [_dotted(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]


def _loops(node: ast.AST) -> bool:
    return any(isinstance(n, ast.For | ast.While | ast.AsyncFor) for n in ast.walk(node))


def _is_constant(node: ast.stmt) -> bool:
    """An UPPER_CASE name bound to a value computed without calls (``LR = 3e-3``)."""
    value = getattr(node, "value", None)
    if value is None or any(isinstance(n, ast.Call) for n in ast.walk(value)):
        return False
    if isinstance(node, ast.Assign):
        names = [t for t in node.targets if isinstance(t, ast.Name)]
        return len(names) == len(node.targets) and all(CONSTANT.match(t.id) for t in names)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and bool(CONSTANT.match(node.target.id))
    return False


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs of True as (first index, last index)."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _module_classes(tree: ast.Module) -> set[str]:
    """Top-level classes that derive (directly, or through one of the script's own) from a
    ``Module`` (``nn.Module``, ``torch.nn.Module``, ``Module``)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {_dotted(b) for b in node.bases}
            if any(b.split(".")[-1] == "Module" for b in bases) or bases & found:
                found.add(node.name)
    return found


def _required_args(fn: ast.FunctionDef) -> list[str]:
    """Positional parameters without defaults, ``self`` left out."""
    args = [*fn.args.posonlyargs, *fn.args.args]
    required = args[: len(args) - len(fn.args.defaults)]
    return [a.arg for a in required if a.arg != "self"]


def guess(source: str) -> Guess:
    """The first guess of blocks and of the names the wrapper calls (``parse``'s errors)."""
    tree = parse(source)
    spans = statement_spans(tree)
    nodes = [n for _, _, n in spans]
    g = Guess()
    taken: set[int] = set()  # indexes of statements already in a block

    def add(name: str, first_i: int, last_i: int, why: str, defines: str | None = None) -> None:
        g.spans.append(Span(name, spans[first_i][0], spans[last_i][1], why, defines))
        taken.update(range(first_i, last_i + 1))

    runs = _runs([_is_constant(n) for n in nodes])
    if runs:
        first_i, last_i = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
        add("hyperparameters", first_i, last_i, "top-level UPPER_CASE constants")
        for i, n in enumerate(nodes):
            if _is_constant(n) and i not in taken:
                g.notes.append(
                    Note(
                        f"script:{n.lineno}",
                        "a constant outside the hyperparameters block "
                        "stays fixed; move it into the block (or --blocks) to let hypotheses "
                        "change it",
                    )
                )
    for n in nodes:
        if _is_constant(n) and re.search(r"STEP|EPOCH|ITER", ast.unparse(n).split("=")[0]):
            g.notes.append(
                Note(
                    f"script:{n.lineno}",
                    "the rungs in task.toml set the training length "
                    "(rung['steps']); the wrapper does not read this constant",
                )
            )
    modules = _module_classes(tree)
    if modules:
        flags = [isinstance(n, ast.ClassDef) and n.name in modules for n in nodes]
        last_model = max(i for i, f in enumerate(flags) if f)
        first_i, last_i = next(r for r in _runs(flags) if r[0] <= last_model <= r[1])
        model = nodes[last_model]
        assert isinstance(model, ast.ClassDef)
        g.model = model.name
        init = next(
            (f for f in model.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"),
            None,
        )
        g.model_args = [] if init is None else _required_args(init)
        add("model", first_i, last_i, f"nn.Module classes ({g.model} is the model)", g.model)
        others = sorted(modules - {n.name for n in nodes[first_i : last_i + 1]})  # type: ignore[attr-defined]
        for name in others:
            line = next(n.lineno for n in nodes if isinstance(n, ast.ClassDef) and n.name == name)
            g.notes.append(
                Note(
                    f"script:{line}",
                    f"class {name} is an nn.Module outside the model block: it stays fixed",
                )
            )
    for i, n in enumerate(nodes):
        if not isinstance(n, ast.FunctionDef) or i in taken or _loops(n):
            continue
        calls = _calls(n)
        if g.optimizer is None and any(".optim." in f".{c}" and c.count(".") for c in calls):
            g.optimizer = n.name
            params = _required_args(n)
            g.optimizer_arg = params[0] if params else "model"
            add("optimizer", i, i, f"{n.name} builds a torch.optim optimizer", n.name)
        elif g.loss is None and (
            LOSSES.search(n.name) or any(LOSSES.search(c.split(".")[-1]) for c in calls)
        ):
            g.loss = n.name
            g.loss_arity = len(_required_args(n))
            add("loss", i, i, f"{n.name} computes the training loss", n.name)
    g.spans.sort(key=lambda s: s.first)
    for n in nodes:
        if isinstance(n, ast.FunctionDef) and n.name == "train_and_predict":
            g.entry = n
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    for c in [*_calls(tree), *imported]:
        if c.split(".")[-1] in SKLEARN:
            g.dataset = c.split(".")[-1]
            break
    return g


# -- the user's blocks -----------------------------------------------------------------------------
def parse_blocks(values: list[str], source: str) -> list[Span]:
    """``--blocks name=START-END`` values as spans, checked against the script: line ranges in
    the script, names distinct, no two overlapping, and whole top-level statements only (a
    marker is a line of its own at the left margin). ``ConfigError`` naming the value."""
    tree = parse(source)
    n_lines = len(source.splitlines())
    statements = statement_spans(tree)
    spans: list[Span] = []
    for value in values:
        m = BLOCK_OPTION.match(value)
        if m is None:
            raise ConfigError(f"--blocks {value!r}: write NAME=START-END, e.g. model=12-40")
        name, first, last = m[1], int(m[2]), int(m[3])
        if not 1 <= first <= last <= n_lines:
            raise ConfigError(
                f"--blocks {value}: lines {first}-{last} are not a range of the script's "
                f"{n_lines} lines"
            )
        if any(s.name == name for s in spans):
            raise ConfigError(f"--blocks {value}: a second block named {name!r}")
        for s in spans:
            if first <= s.last and s.first <= last:
                raise ConfigError(f"--blocks {value}: overlaps block {s.name} ({s.first}-{s.last})")
        for a, b, _ in statements:
            inside = first <= a and b <= last
            if not inside and a <= last and first <= b:
                raise ConfigError(
                    f"--blocks {value}: cuts the top-level statement at lines {a}-{b}; a block "
                    "holds whole top-level statements"
                )
        defines = _defines(tree, first, last)
        spans.append(Span(name, first, last, "given with --blocks", defines))
    return sorted(spans, key=lambda s: s.first)


def _defines(tree: ast.Module, first: int, last: int) -> str | None:
    """The last class or function a block defines (what task.toml requires of it), if any."""
    names = [
        n.name
        for n in tree.body
        if isinstance(n, ast.ClassDef | ast.FunctionDef) and first <= n.lineno <= last
    ]
    return names[-1] if names else None


# -- writing train.py ------------------------------------------------------------------------------
def _allowed(module: str) -> bool:
    return module in (*SANDBOX_MODULES, *FIXED_MODULES) or any(
        module.startswith(f"{m}.") for m in ("numpy", "torch")
    )


def foreign_imports(tree: ast.Module) -> list[tuple[int, int, str]]:
    """Top-level imports the sandbox does not give out: (first line, last line, module)."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            bad = [] if node.level == 0 and _allowed(node.module or "") else [node.module or "."]
        else:
            continue
        if bad:
            out.append((node.lineno, node.end_lineno or node.lineno, ", ".join(bad)))
    return out


def mark(source: str, spans: list[Span]) -> tuple[str, list[Note]]:
    """``source`` with the block markers and with imports the sandbox lacks commented out, and
    the notes on what changed (lines of the new ``train.py``)."""
    tree = parse(source)
    lines = source.splitlines()
    begins = {s.first: s for s in spans}
    ends = {s.last: s for s in spans}
    foreign = {ln: m for a, b, m in foreign_imports(tree) for ln in range(a, b + 1)}
    firsts = {a: m for a, _, m in foreign_imports(tree)}
    out: list[str] = []
    notes: list[Note] = []
    for number, line in enumerate(lines, 1):
        if number in begins:
            out.append(f"# >>> EDIT {begins[number].name}")
        if number in foreign:
            out.append(f"# (not in the sandbox; data come from data.py) {line}")
            if number in firsts:
                notes.append(
                    Note(
                        f"train.py:{len(out)}",
                        f"import of {firsts[number]} commented out: "
                        "the sandbox gives out math, numpy and torch only",
                    )
                )
        else:
            out.append(line)
        if number in ends:
            out.append(f"# <<< EDIT {ends[number].name}")
    for node in tree.body:
        if _runs_on_load(node):
            notes.append(
                Note(
                    f"script:{node.lineno}",
                    "top-level code runs whenever the harness loads "
                    "the script; move it into a function (or under if __name__ == '__main__')",
                )
            )
    return "\n".join(out) + "\n", notes


def _runs_on_load(node: ast.stmt) -> bool:
    """A top-level statement that does work when the script is loaded (not a definition, an
    import, a constant, a docstring or the ``__main__`` guard)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    if isinstance(node, ast.Import | ast.ImportFrom | ast.Pass):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False
    if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
        return False
    if isinstance(node, ast.Assign | ast.AnnAssign):
        value = node.value
        return value is not None and any(isinstance(n, ast.Call) for n in ast.walk(value))
    return True


def _arg(name: str, metric: str) -> str:
    if IN_NAMES.search(name):
        return "n_features"
    if OUT_NAMES.search(name):
        return "n_outputs" if metric == "mse" else "n_classes"
    return ""


def entry_point(g: Guess, metric: str) -> tuple[str, list[str]]:
    """The wrapper ``train_and_predict`` over the guessed names, and what is left TODO."""
    todo: list[str] = []
    args = [_arg(a, metric) for a in g.model_args]
    if g.model is None:
        todo.append("no nn.Module class found: build the model where it says TODO")
        model = "None  # TODO: build the model"
    elif not all(args):
        unknown = [a for a, b in zip(g.model_args, args, strict=True) if not b]
        todo.append(f"the arguments of {g.model}({', '.join(g.model_args)}): {', '.join(unknown)}")
        given = (b or f"TODO_{a}" for a, b in zip(g.model_args, args, strict=True))
        model = f"{g.model}({', '.join(given)})"
    else:
        model = f"{g.model}({', '.join(args)})"
    if g.optimizer is None:
        todo.append("no optimizer function found: the wrapper uses a fixed Adam (lr 1e-3)")
        optimizer = "torch.optim.Adam(model.parameters(), lr=1e-3)  # TODO: fixed, not editable"
    elif "param" in g.optimizer_arg:
        optimizer = f"{g.optimizer}(model.parameters())"
    else:
        optimizer = f"{g.optimizer}(model)"
    default_loss = "mse_loss" if metric == "mse" else "cross_entropy"
    if g.loss is None:
        todo.append(f"no loss function found: the wrapper uses a fixed F.{default_loss}")
        loss = f"torch.nn.functional.{default_loss}(output, y)  # TODO: fixed, not editable"
    else:
        loss = f"{g.loss}(output, y{', model' if g.loss_arity >= 3 else ''})"
    if metric == "accuracy":
        target = 'y = torch.as_tensor(inputs["y_train"], dtype=torch.long)'
        sizes = 'n_features, n_classes = x.shape[1], int(inputs["n_classes"])'
        predict = 'predictions = {"labels": output.argmax(dim=1).numpy().astype(np.int64)}'
        shape = "output = model(x)"
    elif metric == "mse":
        target = 'y = torch.as_tensor(inputs["y_train"], dtype=torch.float32)'
        sizes = "n_features, n_outputs = x.shape[1], (y.shape[1] if y.dim() > 1 else 1)"
        predict = (
            'predictions = {"values": '
            "(output.reshape(-1) if y.dim() == 1 else output).numpy().astype(np.float32)}"
        )
        shape = (
            "output = model(x)\n        if y.dim() == 1:\n            output = output.reshape(-1)"
        )
    else:
        todo.append(
            f"the metric {metric} reads predictions this wrapper cannot guess: write them "
            "(see evaluators/template/metrics.py)"
        )
        target = 'y = torch.as_tensor(inputs["y_train"])  # TODO: what the loss takes'
        sizes = "n_features = x.shape[1]  # TODO"
        predict = f'raise NotImplementedError("TODO: the predictions the metric {metric} reads")'
        shape = "output = model(x)"
    todos = "".join(f"\n    TODO: {t}." for t in todo)
    body = f'''
# ---- fixed from here on: the entry point the harness calls (written by hypoforge task new) ----
import numpy as np  # noqa: E402
import torch  # noqa: E402

import template_fixed  # noqa: E402


def train_and_predict(inputs, rung, seed, checks):
    """The harness's entry point: train from ``seed`` on inputs["x_train"], inputs["y_train"]
    for rung["steps"] full-batch steps; predict for inputs["x_eval"]. Returns the predictions
    the metric ({metric}) reads and the parameter count. Written by `hypoforge task new` from a
    guess: check it against the script's own training code.{todos}
    """
    torch.manual_seed(seed)
    script = train_and_predict.__globals__
    x = torch.as_tensor(inputs["x_train"], dtype=torch.float32)
    {target}
    x_eval = torch.as_tensor(inputs["x_eval"], dtype=torch.float32)
    {sizes}
    model = {model}
    optimizer = {optimizer}
    watch = template_fixed.Watch(model, optimizer, checks.get("steps", []), script)
    steps = int(rung["steps"])
    for step in range(steps):
        model.train()
        watch.before_step(step)
        {shape}
        loss = {loss}
        optimizer.zero_grad()
        loss.backward()
        watch.after_backward()
        optimizer.step()
        watch.after_step(step, full=step == steps - 1)
    model.eval()
    output = template_fixed.guarded(model, lambda: model(x_eval), script)
    {predict}
    return predictions, template_fixed.count_parameters(model, optimizer, script)
'''
    return body, todo


# -- the other files -------------------------------------------------------------------------------
def data_module(name: str, dataset: str | None, metric: str) -> tuple[str, bool]:
    """``data.py`` and whether it works as written (an sklearn dataset the metric can score)."""
    known = SKLEARN.get(dataset or "")
    wanted = {"accuracy": "classes", "mse": "values"}.get(metric)
    fits = known is not None and known[1] == wanted
    if known is None or not fits:
        return DATA_STUB.format(name=name, metric=metric), False
    short, kind = known
    targets = '{"labels": y[held]}' if kind == "classes" else '{"values": y[held]}'
    classes = ', "n_classes": np.array(int(y.max()) + 1)' if kind == "classes" else ""
    y_type = "np.int64" if kind == "classes" else "np.float32"
    return (
        DATA_SKLEARN.format(
            name=name,
            loader=dataset,
            short=short,
            targets=targets,
            classes=classes,
            y_type=y_type,
        ),
        True,
    )


DATA_SKLEARN = '''"""The data of the task {name}: sklearn's {short} dataset, rows re-split per seed.

Host side and trusted: this module is never mounted into a container. Which rows train and which
are held out comes from a seed derived from the installation's secret, so no container can
rebuild the split; the held-out targets stay here. Features are standardised with the training
rows' mean and spread.
"""

import numpy as np
from sklearn.datasets import {loader}

from evaluators.kit.secrets import derive_seed
from evaluators.template.data import TemplateSplit

TASK = "{name}"
SEEDS = (0, 1, 2)  # selection
FRESH_SEEDS = (3, 4, 5)  # confirmation: splits selection never sees
HELD_OUT = 0.3  # share of the rows held out


def split(secret, seed):
    """The split "{short}-s<seed>": a secret permutation of the rows, HELD_OUT of them held out."""
    x, y = {loader}(return_X_y=True)
    rng = np.random.default_rng(derive_seed(secret, TASK, "{short}", seed))
    order = rng.permutation(len(y))
    cut = int(round(len(y) * (1 - HELD_OUT)))
    train, held = order[:cut], order[cut:]
    mean, spread = x[train].mean(axis=0), x[train].std(axis=0) + 1e-8
    x = ((x - mean) / spread).astype(np.float32)
    y = y.astype({y_type})
    return TemplateSplit(
        name=f"{short}-s{{seed}}",
        inputs={{"x_train": x[train], "y_train": y[train], "x_eval": x[held]{classes}}},
        targets={targets},
        secret_id=secret.id,
    )


def selection(secret):
    return [split(secret, s) for s in SEEDS]


def confirmation(secret):
    return [split(secret, s) for s in FRESH_SEEDS]
'''

DATA_STUB = '''"""The data of the task {name}. TODO: write it (task new could not guess it).

Host side and trusted: this module is never mounted into a container. Draw every random choice
from the installation's secret (derive_seed below), so that no container can rebuild the data;
put what training needs in ``inputs`` (into the job) and what the metric ({metric}) reads in
``targets`` (never leaves the host). See evaluators/template/metrics.py for the arrays it reads.
"""

import numpy as np

from evaluators.kit.secrets import derive_seed
from evaluators.template.data import TemplateSplit

TASK = "{name}"
SEEDS = (0, 1, 2)


def split(secret, seed):
    rng = np.random.default_rng(derive_seed(secret, TASK, seed))
    raise NotImplementedError("data.py: TODO: load or draw the data with rng, then return "
                              "TemplateSplit(name=..., inputs=..., targets=..., "
                              "secret_id=secret.id)")


def selection(secret):
    return [split(secret, s) for s in SEEDS]
'''


def task_toml(name: str, metric: str, spans: list[Span], script: str) -> str:
    required = ", ".join(f'{s.name} = "{s.defines}"' for s in spans if s.defines)
    blocks_text = ", ".join(s.name for s in spans) or "none yet"
    summary = (
        f"SEARCH/REPLACE edits to the editable blocks ({blocks_text}) of {script}, scored by "
        f"{metric} on held-out data the host keeps"
    )
    rungs = "\n".join(
        f"[template.rungs.{rung}]\nsteps = {steps}\nwall_seconds = {wall}\n"
        for rung, steps, wall in RUNGS
    )
    return f'''name = "{name}"
summary = "{summary}"
slot = "edits(train.py) -> SEARCH/REPLACE blocks"
kind = "template"

[template]
script = "train.py"
data = "data.py"
metric = "{metric}"
required = {{ {required} }}
parameter_budget = 1.10
modules = []

# The ladder's rungs, in the script's own units: each table is passed to train_and_predict as
# `rung`; wall_seconds bounds one candidate on all splits (host clock).
{rungs}'''


DESCRIPTION = """# {name}

TODO: say in a few sentences what the script learns, from what data, and what a better model,
optimizer or loss would do here. The agents read this page.

The experiment is `train.py` (copied from `{script}` by `hypoforge task new`). A hypothesis
changes only its editable blocks ({blocks}), by SEARCH/REPLACE edits; the training loop and the
predictions are fixed. The score is {metric} on held-out data the host keeps, on {splits}.
"""


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise ConfigError(
            f"task name {name!r}: lower-case letters, digits, '-' and '_', starting with a letter"
        )


def create(
    name: str,
    script: Path,
    into: Path,
    metric: str = DEFAULT_METRIC,
    block_values: list[str] | None = None,
) -> Created:
    """Write the task folder ``into / name`` from ``script``; never into an existing folder."""
    from evaluators import registry
    from evaluators.template.metrics import METRICS

    check_name(name)
    taken = registry.tasks().get(name)
    if taken is not None:
        raise ConfigError(f"a task named {name!r} exists ({taken.folder}); choose another name")
    if metric not in METRICS:
        raise ConfigError(f"--metric {metric!r}: choose one of {', '.join(sorted(METRICS))}")
    folder = into / name
    if folder.exists():
        raise ConfigError(f"{folder} already exists; task new never overwrites a folder")
    try:
        source = script.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {script}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{script} is not UTF-8 text") from None
    if blocks(source):
        raise ConfigError(f"{script} already has editable blocks: copy it into a task folder")
    try:
        g = guess(source)
    except ConfigError as exc:  # "script:N: ..." -> the script's own name
        raise ConfigError(str(exc).replace("script:", f"{script}:", 1)) from None
    spans = parse_blocks(block_values, source) if block_values else g.spans
    notes = [Note(f"script:{s.first}-{s.last}", f"block {s.name}: {s.why}") for s in spans]
    if not block_values:
        notes += g.notes
    if not spans:
        notes.append(Note("train.py", "no block found to guess: mark them with --blocks"))
    marked, mark_notes = mark(source, spans)
    notes += mark_notes
    if g.entry is None:
        stub, todo = entry_point(g, metric)
        marked = marked.rstrip("\n") + "\n\n" + stub
        line = marked.splitlines().index("def train_and_predict(inputs, rung, seed, checks):") + 1
        notes.append(
            Note(
                f"train.py:{line}",
                "train_and_predict was written from the guess: "
                "check it against the script's training code",
            )
        )
        notes += [Note(f"train.py:{line}", f"TODO: {t}") for t in todo]
    else:
        params = [a.arg for a in g.entry.args.args]
        if params != ["inputs", "rung", "seed", "checks"]:
            notes.append(
                Note(
                    f"script:{g.entry.lineno}",
                    "train_and_predict must take "
                    f"(inputs, rung, seed, checks), not ({', '.join(params)})",
                )
            )
    blocks(marked)  # the markers pair up (an error here is a bug of this module)
    data, works = data_module(name, g.dataset, metric)
    if works:
        notes.append(Note("data.py", f"{g.dataset}'s rows, re-split per seed from the secret"))
    else:
        notes.append(Note("data.py", "TODO: a stub: write selection(secret) (it raises now)"))
    folder.mkdir(parents=True)
    try:
        (folder / "train.py").write_text(marked)
        (folder / "data.py").write_text(data)
        (folder / "task.toml").write_text(task_toml(name, metric, spans, script.name))
        (folder / "description.md").write_text(
            DESCRIPTION.format(
                name=name,
                script=script.name,
                blocks=", ".join(s.name for s in spans) or "none yet",
                metric=metric,
                splits=f"splits of {SKLEARN[g.dataset or ''][0]}" if works else "data.py's splits",
            )
        )
        (folder / "baselines").mkdir()
        (folder / "baselines" / "template.edits").write_text("")
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(f"cannot write {folder}: {exc.strerror}") from None
    steps = " / ".join(str(steps) for _, steps, _ in RUNGS)
    notes.append(
        Note(
            "task.toml",
            f"rungs of {steps} steps: `task check` times them; set them to your script's scale",
        )
    )
    notes.append(Note("description.md", "TODO: say what the task asks, for the agents"))
    named = [Note(n.where.replace("script:", f"{script.name}:", 1), n.text) for n in notes]
    return Created(folder, spans, named)


__all__ = [
    "Created",
    "Guess",
    "Note",
    "Span",
    "create",
    "entry_point",
    "guess",
    "mark",
    "parse_blocks",
]
