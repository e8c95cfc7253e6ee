"""Training changes only what the optimizer trains (``template_fixed.Watch``, which train.py's
fixed part calls), and the parameter
count sees every tensor the blocks can hide: a corpus of hiding places, each counted and each
caught when training writes to it; honest edits and every allowed optimizer train unflagged.

The scripts run in this process: train.py's fixed part is ours, and the blocks here are code
that got past the static check (real builtins), as the sandbox's ``escaped`` cases model."""

from __future__ import annotations

import json
import sys
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pytest

from evaluators.edits import apply_edits
from evaluators.grokking import allowlist, data
from evaluators.grokking.data import modular_addition
from evaluators.grokking.harness import WATCHED_STEPS, GrokkingEvaluator
from evaluators.grokking.validator import check_edits, template
from evaluators.runner_loop import load
from evaluators.static_check import StaticCheckError
from evaluators.template import fixed
from evaluators.template.fixed import RuleBroken

ROOT = Path(__file__).resolve().parents[3]
ORDINARY = [
    *sorted((ROOT / "tests" / "corpus" / "grokking" / "ordinary").glob("*.edits")),
    *sorted((ROOT / "examples" / "grokking").glob("*.edits")),
]
X_TR, Y_TR, X_EV, _ = modular_addition(7, seed=0)  # 24 training pairs: fast
VOCAB = 8
HIDDEN = 480  # numbers in the hidden table


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def script(edits: str = "", curated: bool = False) -> dict:
    """train.py with ``edits`` applied, run here: with real builtins (code past the check), or
    with the sandbox runner's curated builtins and modules."""
    source = apply_edits(template(), edits)
    sys.modules.setdefault("template_fixed", fixed)  # what the runner mounts as template_fixed
    if curated:
        from evaluators.runner_loop import MODULES
        from evaluators.template.runner import FIXED_PART_BUILTINS

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "train.py"
            path.write_text(source)
            modules = (*MODULES, "template_fixed")
            return load(path, "train_and_predict", modules, FIXED_PART_BUILTINS)
    namespace: dict = {"__name__": "hypothesis", "weakref": weakref}
    exec(compile(source, "train.py", "exec"), namespace)
    return namespace


def inputs(x_tr: np.ndarray, y_tr: np.ndarray, x_ev: np.ndarray, p: int) -> dict:
    """A split's inputs as the job gives them (``data.split``'s keys)."""
    steps = np.array(data.STEPS)  # the split's own steps: the rung's steps are trained
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_ev, "n_classes": p, "steps": steps}


def train(ns: dict, steps: int = 6, watched=()) -> tuple[np.ndarray, int]:
    found = ns["train_and_predict"](
        inputs(X_TR, Y_TR, X_EV, VOCAB - 1), {"steps": steps}, 0, {"steps": list(watched)}
    )
    return found[0]["labels"], found[1]


def count(ns: dict) -> int:
    model = ns["Model"](VOCAB)
    return fixed.count_parameters(model, ns["make_optimizer"](model), ns)


HEAD = "        self.head = nn.Linear(D_MODEL, vocab - 1)"
RETURN = "        return self.head(self.norm(x[:, -1]))"
OPTIMIZER = next(ln for ln in template().splitlines() if "return torch.optim.AdamW(" in ln)
# Module-level helpers of the hiding places (in the model block, before Model).
HELPERS = """def keep(t=None):
    return t


def make(t):
    def get(*args):
        return t

    return get


def box():
    return None


def forever(t):
    while True:
        yield t


class Store:
    pass


class Plain:
    pass


class Hook:
    def __init__(self, t):
        self.t = t

    def __call__(self, module, args, out):
        return out


"""


def hidden(init: str, optimizer: str = "", write: str = "self.w().add_(1.0)") -> str:
    """Edits that hide a 480-number table ``mem`` with ``init`` (lines of Model.__init__) and
    write it with ``write`` in every training forward pass; the model reaches it only through a
    weak reference (invisible to any walk), so the hiding place alone holds it."""
    lines = ["mem = torch.zeros(480)", *init.split("\n"), "self.w = weakref.ref(mem)"]
    edits = edit("class Model(nn.Module):", HELPERS + "class Model(nn.Module):")
    edits += edit(HEAD, HEAD + "".join(f"\n        {ln}" for ln in lines))
    edits += edit(RETURN, f"        if self.training:\n            {write}\n{RETURN}")
    if optimizer:
        edits += edit(OPTIMIZER, optimizer)
    return edits


TO_OPTIMIZER = "    opt = torch.optim.AdamW(groups, lr=LR)\n"
HIDING_PLACES = {
    "slice": hidden("self.box = slice(mem, None)"),
    "function default": hidden("keep.__defaults__ = (mem,)"),
    "closure cell": hidden("self.get = make(mem)"),
    "function __dict__": hidden("box.mem = mem"),
    "class attribute": hidden("Store.mem = mem"),
    "frozenset": hidden("self.fs = frozenset([mem])"),
    "property": hidden("self.prop = property(make(mem))"),
    "bound method": hidden("self.m = Hook(mem).__call__"),
    "nested plain object": hidden('self.plain = Plain()\nself.plain.inner = {"a": [(mem,)]}'),
    "buffer": hidden('self.register_buffer("mem", mem)'),
    "module hook": hidden("self.norm.register_forward_hook(Hook(mem))"),
    "tensor attribute": hidden("self.tag = torch.zeros(0)\nself.tag.mem = mem"),
    "dict key": hidden("self.keys = {mem: 1}"),
    "param_groups key": hidden(
        "self.pending = [mem]",
        '    groups[0]["mem"] = model.pending.pop()\n' + OPTIMIZER,
    ),
    "optimizer state": hidden(
        "self.pending = [mem]",
        TO_OPTIMIZER + '    opt.state["mem"] = model.pending.pop()\n    return opt',
    ),
    "written through .data (no write count)": hidden(
        'self.register_buffer("mem", mem)', write="self.mem.data.add_(1.0)"
    ),
}


# Iterators keep their position where no reference shows it: holding one is refused outright.
ITERATORS = {
    "generator": hidden("self.gen = forever(mem)"),
    "list iterator": hidden("self.it = iter([mem])"),
    "zip": hidden("self.z = zip([mem])"),
    "enumerate": hidden("self.e = enumerate([mem])"),
    "reversed range": hidden("self.r = reversed(range(3))\nself.box = slice(mem, None)"),
}


@pytest.fixture(scope="module")
def template_count() -> int:
    return count(script())


@pytest.mark.parametrize("edits", HIDING_PLACES.values(), ids=HIDING_PLACES.keys())
def test_every_hiding_place_is_counted(edits, template_count):
    ns = script(edits)
    model = ns["Model"](VOCAB)
    assert model.w() is not None  # held by the hiding place alone
    found = fixed.count_parameters(model, ns["make_optimizer"](model), ns) - template_count
    # the hidden tensor, and at most a few numbers of the hiding object's own (a new function's
    # name, a dict's value)
    assert HIDDEN <= found <= HIDDEN + 4, found


@pytest.mark.parametrize("edits", HIDING_PLACES.values(), ids=HIDING_PLACES.keys())
def test_a_write_to_any_hiding_place_while_training_is_caught(edits):
    ns = script(edits)
    with pytest.raises(RuleBroken, match=r"training changed a tensor of shape \[480\]"):
        train(ns)


@pytest.mark.parametrize("edits", ITERATORS.values(), ids=ITERATORS.keys())
def test_holding_an_iterator_is_refused(edits):
    ns = script(edits)
    for run in (count, train):
        with pytest.raises(RuleBroken, match=r"holds an iterator \(\w+\)"):
            run(ns)


@pytest.mark.slow  # trains the template and every ordinary edit
def test_the_template_and_ordinary_edits_train_unflagged_in_the_runners_namespace():
    for path in ORDINARY:
        ns = script(path.read_text(), curated=True)
        predictions, n = train(ns, steps=4, watched=range(4))
        assert predictions.shape == (41, len(X_EV)) and n > 0, path.name
    predictions, n = train(script(curated=True), steps=4, watched=range(4))
    assert n == count(script())


# Adam in make unit; the other optimizers train a second each and run in make test.
@pytest.mark.parametrize(
    "name",
    [
        n if n == "Adam" else pytest.param(n, marks=pytest.mark.slow)
        for n in sorted(allowlist.OPTIMIZERS)
    ],
)
def test_every_allowed_optimizer_trains_unflagged(name):
    extra = {"SGD": ", momentum=0.9", "RMSprop": ", momentum=0.9", "Adam": ", amsgrad=True"}
    built = f"    return torch.optim.{name}(groups, lr=LR{extra.get(name, '')})"
    ns = script(edit(OPTIMIZER, built))
    train(ns, steps=5, watched=range(5))


def test_no_allowed_layer_changes_while_training():
    """Every nn layer the allowlist names, in training mode through forward and backward,
    leaves everything the walk reaches as it was (BatchNorm only without running statistics)."""
    import torch
    from torch import nn

    ns = script()
    x, seq = torch.randn(3, 4), torch.randn(2, 3, 4)
    acts = [nn.GELU(), nn.ReLU(), nn.SiLU(), nn.Tanh(), nn.Mish(), nn.ELU(), nn.SELU()]
    acts += [nn.CELU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Softplus(), nn.Softsign()]
    acts += [nn.Hardswish(), nn.Softmax(-1), nn.LogSoftmax(-1), nn.Identity(), nn.Dropout()]
    layers = [
        (nn.Sequential(nn.Linear(4, 4), *acts, nn.Flatten(), nn.Unflatten(1, (2, 2))), (x,)),
        (nn.Bilinear(4, 4, 4), (x, x)),
        (nn.Embedding(5, 4), (torch.tensor([1, 2]),)),
        (nn.Sequential(nn.LayerNorm(4), nn.RMSNorm(4), nn.GroupNorm(2, 4)), (x,)),
        (nn.BatchNorm1d(4, track_running_stats=False), (x,)),
        (nn.MultiheadAttention(4, 2, batch_first=True), (seq, seq, seq)),
        (nn.TransformerEncoderLayer(4, 2, 8, batch_first=True), (seq,)),
        (nn.Conv1d(3, 4, 3, padding=1), (seq,)),
        (nn.Sequential(nn.Linear(4, 8), nn.GLU()), (x,)),
    ]
    holders = [nn.ModuleList([nn.Linear(4, 4)]), nn.ModuleDict({"a": nn.Linear(4, 4)})]
    holders += [nn.ParameterList([nn.Parameter(x)]), nn.ParameterDict({"a": nn.Parameter(x)})]
    for layer, args in layers + [(h, None) for h in holders]:
        layer.train()
        before = fixed.snapshot([layer], ns)
        if args is not None:
            out = layer(*args)
            (out[0] if isinstance(out, tuple) else out).sum().backward()
        assert fixed.what_changed(before, [layer], ns) is None, layer


def test_batchnorm_running_statistics_are_refused_and_plain_batchnorm_trains():
    def bn(args: str) -> str:
        return edit(HEAD, f"{HEAD}\n        self.bn = nn.BatchNorm1d(D_MODEL{args})") + edit(
            RETURN, "        return self.head(self.bn(self.norm(x[:, -1])))"
        )

    with pytest.raises(StaticCheckError, match="pass track_running_stats=False"):
        check_edits(bn(""))  # refused before a container starts; the run time refuses it too
    ns = script(bn(""))
    with pytest.raises(RuleBroken, match=r"\(bn\.\w+\) in a training step") as e:
        train(ns)
    assert "track_running_stats=False" in str(e.value)
    train(script(bn(", track_running_stats=False")), watched=range(6))


def test_a_view_of_a_parameter_kept_from_init_trains_unflagged_and_is_watched():
    def tied(write: str = "") -> str:
        logits = "        return self.norm(x[:, -1]) @ self.tied.t()"
        return edit(HEAD, HEAD + "\n        self.tied = self.embed.weight[: vocab - 1]") + edit(
            RETURN, write + logits
        )

    check_edits(tied())
    train(script(tied(), curated=True), watched=range(6))
    # A write into the view is a write into its parameter, outside the optimizer's step.
    write = "        if self.training:\n            with torch.no_grad():\n"
    ns = script(tied(write + "                self.tied.mul_(1.0)\n"))
    with pytest.raises(RuleBroken, match=r"\(embed.weight\) while the loss"):
        train(ns)


def test_a_parameter_written_in_the_forward_pass_is_caught():
    write = "with torch.no_grad():\n                self.head.weight.mul_(1.0)"
    ns = script(hidden("self.box = slice(mem, None)", write=write))
    with pytest.raises(RuleBroken, match="while the loss and its gradients were computed"):
        train(ns)


def test_a_parameter_written_without_a_write_count_is_caught_by_its_values():
    write = "self.head.weight.data.add_(0.5)"  # .data: no write count; values compared
    ns = script(hidden("self.box = slice(mem, None)", write=write))
    with pytest.raises(RuleBroken, match=r"head.weight\) while the loss"):
        train(ns, watched=[3])


def test_a_write_while_predicting_is_caught():
    write = "pass\n        else:\n            self.w().add_(1.0)"
    ns = script(hidden("self.box = slice(mem, None)", write=write))
    with pytest.raises(RuleBroken, match="changed its own state while predicting"):
        train(ns)


def test_the_walk_is_bounded():
    ns = script(hidden("self.many = [[] for _ in range(200_001)]"))
    with pytest.raises(FloatingPointError, match="more than 200000 objects"):  # RuleBroken
        count(ns)


def test_the_host_draws_fresh_steps_per_job_and_the_runner_refuses_a_write(tmp_path):
    ev = GrokkingEvaluator.__new__(GrokkingEvaluator)
    ev.splits = [data.split(7, 0, steps=300)]
    spec = type("Spec", (), {"name": "short"})()
    draws = [
        ev.draw_checks(np.random.default_rng(s), ["add7-s0"], spec)["add7-s0"]["steps"]
        for s in range(2)
    ]
    assert draws[0] != draws[1]
    assert all(0 < len(d) <= WATCHED_STEPS and all(0 <= v < 600 for v in d) for d in draws)

    from evaluators.template import runner

    (tmp_path / "in" / "candidates").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    sliced = hidden("self.box = slice(mem, None)", write="self.box.start.add_(1.0)")
    for name, edits in (("honest", ""), ("hiding", sliced)):
        source = apply_edits(template(), edits).replace("weakref.ref(mem)", "None")
        (tmp_path / "in" / "candidates" / f"{name}.py").write_text(source)
    train = {"rung": {"steps": 8}, "modules": []}
    job = {"candidates": ["honest", "hiding"], "splits": ["add7-s0"], "train": train}
    job["checks"] = {"add7-s0": {"steps": draws[0]}}
    (tmp_path / "in" / "job.json").write_text(json.dumps(job))
    np.savez(tmp_path / "data.npz", **data.split(7, 0).public())  # type: ignore[arg-type]
    assert runner.run(tmp_path / "in", tmp_path / "data.npz", tmp_path / "out") == 4
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["honest"] == {"stage": "done"}
    assert status["hiding"]["stage"] == "check"
    assert status["hiding"]["error"].startswith("add7-s0: training changed a tensor of shape")


@pytest.mark.parametrize("number", [13, 14])
@pytest.mark.parametrize("watched", [(), (0,)], ids=["step-0-not-drawn", "step-0-drawn"])
def test_the_red_team_cases_fail_with_their_reason_whatever_the_host_draws(number, watched):
    """Red-team cases 13 and 14 (the sandbox runs them too): the same reason whether the full
    check of the first step was drawn or not (the phase named differs)."""
    from evaluators import redteam

    case = next(c for c in redteam.CASES if c.number == number and c.task == "grokking")
    ns = script(case.source, curated=True)
    x_tr, y_tr, x_ev, _ = modular_addition(31, seed=0)  # 480 training pairs, as in the case
    with pytest.raises(RuleBroken) as broken:
        ns["train_and_predict"](inputs(x_tr, y_tr, x_ev, 31), {"steps": 3}, 0, {"steps": watched})
    assert case.reason in str(broken.value)


# --- a red team's second pass (evaluators/redteam_cases/) --------------------------------------

PAST_CHECK = Path(__file__).resolve().parents[3] / "evaluators" / "redteam_cases"


def past_check(name: str) -> str:
    return (PAST_CHECK / f"{name}.edits").read_text()


def test_parameters_cast_and_cast_back_in_the_loss_are_caught_at_every_step():
    """Bits kept in lr-0 parameters by rounding them to bfloat16 and back (module.to, which
    counts no write): the answers were stored once, at step 0, and scored 0.976 against the
    template's 0.283 when step 0 was not drawn. Parameter values are compared at every step."""
    edits = past_check("lr0_bits_cast")
    check_edits(edits)  # it passes the static check
    with pytest.raises(Exception, match="while the loss and its gradients were computed"):
        train(script(edits, curated=True), watched=())


def test_a_table_kept_as_text_is_counted():
    """65,536 fixed random numbers kept in a string and parsed in forward: counted as numbers
    (a number per 8 characters), so the bigger-model flag sees them."""
    edits = past_check("table_as_text")
    check_edits(edits)
    assert count(script(edits)) - count(script()) > 60_000


def test_a_parameter_subclass_past_the_check_cannot_shrink_the_count():
    """An nn.Parameter subclass whose numel says 1 (refused statically; past the check, the
    count calls Tensor's own numel)."""
    ns = script(past_check("numel_subclass"))
    assert count(ns) - count(script()) == 2 * 32 * 64 * 32
