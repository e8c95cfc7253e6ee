"""Red-team cases for the grokking task without the sandbox: every attack class of issue 12 and
its variants is refused by the static check with its reason, ordinary edits pass, the parameter
count finds every tensor reachable from the model, and no input makes the check raise anything
but ``StaticCheckError`` (property-based fuzzing)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from evaluators.edits import apply_edits
from evaluators.grokking.validator import (
    StaticCheckError,
    check_edits,
    check_script,
    template,
)
from evaluators.template import fixed

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus" / "grokking"
ORDINARY = sorted((CORPUS / "ordinary").glob("*.edits"))
HOSTILE = sorted((CORPUS / "hostile").glob("*.edits"))
EXAMPLES = [
    *sorted((ROOT / "examples" / "grokking").glob("*.edits")),
    ROOT / "evaluators" / "grokking" / "baselines" / "template.edits",
]
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def in_loss(*lines: str) -> str:
    """Edits adding ``lines`` to loss_fn's body, before its return."""
    body = "".join(f"    {ln}\n" for ln in lines)
    return edit(
        "    return F.cross_entropy(logits, targets)",
        body + "    return F.cross_entropy(logits, targets)",
    )


def in_init(*lines: str) -> str:
    """Edits adding ``lines`` to the end of Model.__init__."""
    head = "        self.head = nn.Linear(D_MODEL, vocab - 1)"
    return edit(head, head + "\n" + "\n".join(f"        {ln}" for ln in lines))


def top(*lines: str) -> str:
    """Edits adding ``lines`` at the top level of the hyperparameters block."""
    return edit("LR_SCALE_HEAD = 1.0", "LR_SCALE_HEAD = 1.0\n" + "\n".join(lines))


# ---- the corpora -------------------------------------------------------------------------------


def test_the_corpora_are_large_enough():
    assert len(ORDINARY) >= 8 and len(HOSTILE) >= 12


@pytest.mark.parametrize("path", ORDINARY + EXAMPLES[:-1], ids=lambda p: p.name)
def test_ordinary_edits_pass(path):
    check_edits(path.read_text())


# The edits the task's grammar (grammars/edits.gbnf) can write beside a hyperparameter.
GRAMMAR_LOSSES = [
    "F.cross_entropy(logits, targets, label_smoothing=0.1)",
    *(
        f"F.cross_entropy(logits, targets) + 1e-3 * {penalty}"
        for penalty in (
            "sum((p * p).sum() for p in model.parameters())",
            "(logits * logits).mean()",
            "sum(p.abs().sum() for p in model.parameters())",
        )
    ),
]
MLP = next(line for line in template().splitlines() if "self.mlp = nn.Sequential(" in line)


@pytest.mark.parametrize(
    "edits",
    [
        *(
            edit("    return F.cross_entropy(logits, targets)", f"    return {loss}")
            for loss in GRAMMAR_LOSSES
        ),
        *(edit(MLP, MLP.replace("GELU", name)) for name in ("ReLU", "SiLU", "Tanh", "Mish", "ELU")),
    ],
)
def test_what_the_grammar_writes_passes(edits):
    check_edits(edits)


def test_the_unedited_template_and_its_baseline_keep_the_rules():
    check_script(template())
    assert EXAMPLES[-1].read_text() == ""  # the baseline is the template itself
    assert apply_edits(template(), "") == template()


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_hostile_edits_fail_with_their_reason(path):
    first, _, text = path.read_text().partition("\n")
    assert first.startswith("# expect: ")
    with pytest.raises(StaticCheckError) as refused:
        check_edits(text)
    assert first.removeprefix("# expect: ") in str(refused.value)


# ---- each attack class and its variants --------------------------------------------------------


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        # 1. builtin and fixed-name shadowing, every binding form
        (top("def id(x):", "    return 0"), "id is a Python builtin"),
        (top("int = float"), "int is a Python builtin"),
        (top("LEN, zip = 1, 2"), "zip is a Python builtin"),
        (in_loss("for len in range(2):", "    pass"), "len is a Python builtin"),
        (in_loss("pairs = {enumerate: 1 for enumerate in range(2)}"), "enumerate is a Python"),
        (in_loss("n = [print for print in range(2)]"), "print is a Python builtin"),
        (
            edit("def loss_fn(logits, targets, model):", "def loss_fn(logits, targets, list):"),
            "list is a Python builtin",
        ),
        (
            edit("class Model(nn.Module):", "class Model(nn.Module):\n    vars = 1\n"),
            "vars is a Python builtin",
        ),
        (top("predict = 0"), "predict belongs to the fixed part"),
        (top("template_fixed = 0"), "template_fixed"),
        (top("def train_and_predict():", "    pass"), "train_and_predict belongs to the fixed"),
        (top("torch = 1"), "torch belongs to the fixed part"),
        # 2. C-level Python and escapes: allowlisted names, paths and attributes only
        (in_loss("np.lib.format.open_memmap('x')"), "np is not allowed in a block"),
        (in_loss("x = np.frombuffer(b'')"), "np is not allowed in a block"),
        (in_loss("x = torch.from_numpy(0)"), "torch.from_numpy is not an allowed operation"),
        (in_loss("x = torch.nn.modules"), "nn.modules is not an allowed operation"),
        (
            in_loss("x = torch.autograd.grad(logits.sum(), model.parameters())"),
            "torch.autograd.grad is not an allowed operation",
        ),
        (in_loss("x = logits.untyped_storage()"), ".untyped_storage is not an allowed"),
        (in_loss("x = logits.grad_fn"), ".grad_fn is not an allowed"),
        (in_loss("x = logits.__array__()"), "private and dunder attributes"),
        (in_loss("x = F"), "F is a module"),
        (in_init("self.data_ptr = 1"), "data_ptr is a name of torch.Tensor"),
        (in_init("self.f_globals = 1"), "f_globals is a name of torch.Tensor"),
        (
            edit(
                "class Model(nn.Module):",
                "class Model(nn.Module):\n    def ctypes(self):\n        return 0\n",
            ),
            "ctypes is a name of torch.Tensor",
        ),
        (in_loss("x = super().__thisclass__"), "super is allowed only as super().__init__()"),
        (in_loss("x = super()"), "super is allowed only as super().__init__()"),
        (edit("class Model(nn.Module):", "@Block\nclass Model(nn.Module):"), "decorators"),
        (edit("class Model(nn.Module):", "class Model(nn.Module, int):"), "may derive only"),
        (in_loss("x = [t for t in range(3) if (n := t)]"), "NamedExpr is not allowed"),
        (in_loss("try:", "    pass", "except ValueError:", "    pass"), "Try is not allowed"),
        (in_loss("while True:", "    break"), "While is not allowed"),
        (in_loss("del logits"), "Delete is not allowed"),
        (in_loss("from torch import load"), "ImportFrom is not allowed"),
        (in_loss("def inner():", "    return 1"), "nested functions are not allowed"),
        (
            edit(
                "def loss_fn(logits, targets, model):",
                "class Loss:\n    pass\n\n\ndef loss_fn(logits, targets, model):",
            ),
            "classes may be defined only",
        ),
        # 3. uncounted parameters and extra optimizers
        (
            in_loss("opt = torch.optim.SGD(model.parameters(), lr=1.0)"),
            "may be built only in the optimizer block",
        ),
        (in_loss("model.zero_grad()"), ".zero_grad is not an allowed"),
        (in_loss("x = model.head.weight.grad"), ".grad is not an allowed"),
        (in_loss("model.head.weight.requires_grad_(False)"), ".requires_grad_ is not an allowed"),
        (in_loss("w = F.relu(model.head.weight, inplace=True)"), "inplace= writes"),
        (in_loss("w = model.head.weight.detach()"), ".detach is not an allowed"),
        (
            in_init("self.frozen = nn.Parameter(torch.zeros(3), requires_grad=False)"),
            "requires_grad= is not allowed",
        ),
        (in_loss("p = nn.Linear(3, 3)"), "nn.Linear may be built only in the model block"),
        (in_init("self.step = 1"), "step is a name of torch.Tensor"),
        (in_init("self.training = False"), "training is a name of torch.Tensor"),
        (in_init("self.parameters = self.children"), "parameters is a name of torch.Tensor"),
        (in_loss("model.blocks.append(nn.Linear(3, 3))"), ".append may fill a list only"),
        (in_loss("model.head.weight[0] = 0.0"), "item assignment changes a tensor in place"),
        (in_loss("model.head.bias += 1"), "only attributes of self may be set"),
        (
            edit(
                "def loss_fn(logits, targets, model):",
                "def loss_fn(logits, targets, model, memory=torch.zeros(9)):",
            ),
            "a default argument may not use torch",
        ),
        (
            edit("class Model(nn.Module):", "class Model(nn.Module):\n    extra = [1]\n"),
            "a value at the top of class Model may be a number, string or tuple only",
        ),
        (top("def make():", "    return 1", "", "THING = make()"), "may compute numbers only"),
        (top("for i in range(3):", "    pass"), "only constants, functions and classes"),
        # 4. answer tables
        (top(f"T = {list(range(17))}"), "a literal of 17 items"),
        (top("T = {" + ", ".join(f"{i}: {i}" for i in range(20)) + "}"), "a literal of 20"),
        (top(f"T = '{'x' * 501}'"), "a string of 501 characters"),
        (top("T = 10000000"), "an integer beyond"),
        (top("T = b'abc'"), "bytes literals are not allowed"),
    ],
)
def test_attacks_are_refused_with_their_reason(edits, reason):
    with pytest.raises(StaticCheckError) as refused:
        check_edits(edits)
    assert reason in str(refused.value)


# ---- the parameter count ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def script() -> dict:
    """The unedited train.py's namespace (our code, as the harness runs it for the budget)."""
    sys.modules.setdefault("template_fixed", fixed)  # what the runner mounts as template_fixed
    namespace: dict = {"__name__": "template"}
    exec(compile(template(), "train.py", "exec"), namespace)
    return namespace


def _count(script: dict, model: nn.Module) -> int:
    return fixed.count_parameters(model, script["make_optimizer"](model), script)


def test_the_count_finds_tensors_kept_outside_the_registered_children(script):
    base = _count(script, script["Model"](14))
    model = script["Model"](14)
    model.plain_list = [nn.Linear(4, 5)]  # 25, not a registered child
    model.nested = {"a": (torch.zeros(3), {torch.zeros(2)})}  # 5, in a dict, a tuple, a set
    holder = type("Holder", (), {"__module__": "template"})()  # one of the script's own classes
    holder.table = torch.zeros(7)
    model.holder = holder
    model.bound = nn.Linear(2, 2).forward  # 6, behind a bound method
    model.again = [model.embed.weight, model.plain_list]  # counted once
    model.cycle = []
    model.cycle.append(model.cycle)
    assert _count(script, model) == base + 25 + 5 + 7 + 6


def test_a_model_that_changes_its_tensors_while_predicting_fails(script):
    class Sneaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(3))

        def forward(self, tokens):
            if not self.training:
                self.w.add_(1.0)  # under no_grad, in predict: unseen by the optimizer
            return torch.zeros(len(tokens), 3) + self.w

    tokens = torch.zeros(4, 3, dtype=torch.long)
    with pytest.raises(FloatingPointError, match="changed its own state while predicting"):
        script["predict"](Sneaky(), tokens, script)
    assert script["predict"](script["Model"](14), tokens, script).shape == (4,)


def test_the_count_includes_the_optimizers_tensors_and_is_bounded(script):
    model = script["Model"](14)
    extra = torch.zeros(11, requires_grad=True)
    optimizer = torch.optim.SGD([*model.parameters(), extra], lr=0.1)
    base = _count(script, script["Model"](14))
    assert fixed.count_parameters(model, optimizer, script) == base + 11
    model.many = [[] for _ in range(fixed.MAX_OBJECTS)]
    with pytest.raises(FloatingPointError, match="more than 200000 objects"):  # RuleBroken
        _count(script, model)


# ---- totality: nothing but StaticCheckError, whatever the text ---------------------------------


def _total(text: str) -> None:
    """check_edits and apply_edits end in None or StaticCheckError, never anything else."""
    for run in (check_edits, lambda t: apply_edits(template(), t)):
        try:
            run(text)
        except StaticCheckError as exc:
            assert str(exc)


@pytest.mark.parametrize(
    "replace",
    [
        "X = " + "(" * 300 + ")" * 300,
        "X = " + "-" * 5000 + "1",
        "X = 1" + " + 1" * 2900,
        "X = [" * 100 + "]" * 100,
        "X = " + "9" * 5000,
        "X = 1\x00",
        "X = '\ud800'",
        "X = 1\u2028Y = 2",
        "X = 1\rCHECKPOINTS = 1",
        "\ufeffX = 1",
        "    X = 1",
        "X = 1 \\",
        "def f(:",
    ],
)
def test_pathological_replacements_are_refused_with_a_reason(replace):
    with pytest.raises(StaticCheckError):
        check_edits(edit("LR = 3e-3", replace))
    _total(edit("LR = 3e-3", replace))


def test_the_edit_parser_is_linear_on_many_markers():
    start = time.perf_counter()
    _total("<<<<<<< SEARCH\n" * 400 + "=======\n" * 400)
    assert time.perf_counter() - start < 1.0


@FUZZ
@given(st.text(max_size=3000))
def test_fuzz_random_text(text):
    _total(text)


SEEDS = [p.read_text() for p in ORDINARY + HOSTILE + EXAMPLES]
PIECES = st.sampled_from(
    [
        "(",
        ")",
        "[",
        '"""',
        "'",
        "\\",
        "\n",
        "    ",
        ":",
        "=",
        "\x00",
        "<<<<<<< SEARCH\n",
        "=======\n",
        ">>>>>>> REPLACE\n",
        "# <<< EDIT model\n",
        "self.",
        "__",
        "lambda",
        "\t",
    ]
)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.one_of(PIECES, st.text(max_size=20))),
        max_size=6,
    ),
)
def test_fuzz_mutated_corpus_and_examples(seed, mutations):
    text = seed
    for where, cut, insert in mutations:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    _total(text)


TEMPLATE_LINES = template().splitlines()


@FUZZ
@given(st.integers(0, len(TEMPLATE_LINES) - 1), st.integers(1, 6), st.text(max_size=200))
def test_fuzz_edits_of_template_lines(first, count, replace):
    search = "\n".join(TEMPLATE_LINES[first : first + count])
    _total(edit(search, replace))
