"""The signature table of every allowed callable (``evaluators.signatures``): derived for each
one, consistent with torch's operator schemas, applied by every task's static check, and
fuzzed against the real functions: no call the table allows writes into a tensor or array it
was given, whatever arguments fill the allowed positions and keywords."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluators import signatures
from evaluators.activation.validator import check_source as check_activation
from evaluators.allowlists import ACTIVATION, PREPROCESS, REGULARIZER
from evaluators.grokking import allowlist
from evaluators.grokking.validator import check_edits
from evaluators.preprocess.validator import check_source as check_preprocess
from evaluators.regularizer.validator import check_source as check_regularizer
from evaluators.static_check import StaticCheckError

POLICIES = (ACTIVATION, PREPROCESS, REGULARIZER)


def _function_paths() -> list[str]:
    """Every callable a function task allows, and every one a grokking block may call (but
    nn.init's, which fill the tensor they are given by design, only in __init__)."""
    found = set()
    for policy in POLICIES:
        for module, names in policy.modules.items():
            found.update(f"{module}.{n}" for n in names)
    found.update(p for p, where in allowlist.paths().items() if where != "init")
    return sorted(p for p in found if callable(signatures.resolve(p)) and not _is_value(p))


def _is_value(path: str) -> bool:
    """dtypes and numpy's scalar types: values, called only to convert a number."""
    obj = signatures.resolve(path)
    return isinstance(obj, torch.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic))


def _methods() -> list[tuple[str, tuple[str, ...]]]:
    """Every method name a task allows, with the kinds of value it may be called on."""
    tasks = [(p.methods, p.kinds) for p in POLICIES]
    tasks.append((allowlist.METHODS | allowlist.INIT_METHODS, allowlist.KINDS))
    return sorted({(m, kinds) for names, kinds in tasks for m in names})


PATHS = _function_paths()
METHODS = _methods()


# --- the table is complete and agrees with torch's own data ---------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_every_allowed_callable_has_a_signature(path):
    if path == "torch.Tensor":
        assert signatures.for_path(path) is None  # a type: isinstance only, never called
        return
    slots = signatures.for_path(path)
    assert slots is not None, f"{path}: no signature known, so a call of it cannot be checked"
    assert not slots.keywords & (slots.writes | signatures.WRITE_NAMES), path


@pytest.mark.parametrize("path", [p for p in PATHS if p.startswith(("torch.", "F."))])
def test_no_schema_write_argument_is_allowed(path):
    """Independently of the table's derivation: every argument torch's operator schemas mark as
    written is refused as a keyword, and no allowed position reaches a positional one."""
    obj = signatures.resolve(path)
    slots = signatures.for_path(path)
    if slots is None:
        return
    for schema in signatures._schemas(obj):
        positions = [a for a in schema.arguments if not a.kwarg_only]
        for arg in schema.arguments:
            if arg.alias_info is None or not arg.alias_info.is_write or arg.name == "self":
                continue
            assert arg.name not in slots.keywords, (path, arg.name)
            if not arg.kwarg_only and slots.positional is not None:
                assert slots.positional <= positions.index(arg), (path, arg.name)


@pytest.mark.parametrize(("name", "kinds"), METHODS)
def test_every_allowed_method_is_described_or_an_attribute(name, kinds):
    slots = signatures.for_method(name, kinds)
    if slots is None:  # then no kind has it as a method: an attribute such as shape or weight
        for kind in kinds:
            for holder in signatures._kind_types(kind):
                obj = inspect.getattr_static(holder, name, None)
                assert obj is None or isinstance(obj, property) or not callable(obj), name
    else:
        assert not slots.keywords & (slots.writes | signatures.WRITE_NAMES), name


def test_known_write_slots_are_found():
    assert signatures.for_path("F.relu").positional == 1
    assert "inplace" in signatures.for_path("F.relu").writes
    assert signatures.for_path("F.normalize").positional == 4
    assert signatures.for_path("torch.norm").positional == 4
    assert signatures.for_path("F.dropout").positional == 3
    assert signatures.for_path("nn.ReLU").positional == 0
    assert signatures.for_path("nn.Embedding").positional == 3  # max_norm renormalises rows
    assert signatures.for_path("numpy.add").positional == 2  # a ufunc's out is its third
    assert signatures.for_method("sum", ("ndarray",)).positional == 2
    assert {"max", "max_values"} <= signatures.for_path("torch.max").writes
    assert signatures.for_path("torch.zeros").positional is None  # torch.zeros(2, 3)


# --- every task's check applies it ----------------------------------------------------------

ACT = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return {}\n"
PRE = "import numpy as np\n\ndef preprocess(X_train, X_test):\n    {}\n    return X_train, X_test\n"
REG = (
    "import torch\nimport torch.nn.functional as F\n\n"
    "def penalty(model, logits, targets):\n    {}\n    return 0.0 * logits.sum()\n"
)


@pytest.mark.parametrize(
    ("check", "source", "reason"),
    [
        (check_activation, ACT.format("F.relu(x, True)"), "at most one positional argument"),
        (check_activation, ACT.format("F.elu(x, 1.0, True)"), "the next position (inplace) writes"),
        (check_activation, ACT.format("torch.relu(x, x)"), "at most one positional"),
        (check_activation, ACT.format("x.clamp(0, 1, x)"), ".clamp: it takes at most 2"),
        (check_activation, ACT.format("F.relu(*[x, True])"), "* unpacking"),
        (check_activation, ACT.format("F.leaky_relu(x, inplace=True)"), "inplace= is not"),
        (
            check_preprocess,
            PRE.format("np.add(X_train, 1.0, X_test)"),
            "the next position (out) writes",
        ),
        (check_preprocess, PRE.format("m = X_train.sum(0, None, X_test)"), ".sum: it takes"),
        (check_preprocess, PRE.format("m = np.mean(X_train, 0, None, X_test)"), "np.mean"),
        (
            check_regularizer,
            REG.format("w = [F.normalize(p, 2.0, 0, 1e-12, p) for p in model.parameters()]"),
            "F.normalize: it takes at most 4 positional arguments here",
        ),
        (
            check_regularizer,
            REG.format("n = torch.norm(logits, 2, 1, False, logits)"),
            "torch.norm: it takes at most 4",
        ),
        (
            check_regularizer,
            REG.format("s = torch.max(logits, 1, max=logits)"),
            "torch.max: max= writes",
        ),
        (check_regularizer, REG.format("f = F.relu"), "may only be called"),
    ],
)
def test_function_tasks_refuse_write_slots_by_position(check, source, reason):
    with pytest.raises(StaticCheckError) as err:
        check(source)
    assert reason in str(err.value)


@pytest.mark.parametrize(
    "source",
    [
        ACT.format("F.leaky_relu(x, 0.1) + torch.clamp(x, -1.0, 1.0)"),
        ACT.format("torch.where(x > 0, x, 0.1 * x)"),
        PRE.format("m = np.mean(X_train, 0, keepdims=True)"),
        PRE.format("X_train = np.clip(X_train, -3.0, 3.0)"),
        REG.format("n = torch.norm(logits, 2, 1, False)"),
        REG.format("v, i = torch.max(logits, 1, True)"),
        REG.format("z = torch.zeros(2, 3)"),
    ],
)
def test_function_tasks_still_accept_honest_calls(source):
    {"activation": check_activation, "preprocess": check_preprocess}.get(
        source.split("def ")[1].split("(")[0], check_regularizer
    )(source)


FORWARD = """    def forward(self, tokens):
        x = self.embed(tokens) + self.position
"""


def _edit_forward(line: str) -> str:
    return f"<<<<<<< SEARCH\n{FORWARD}=======\n{FORWARD}        {line}\n>>>>>>> REPLACE\n"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("x = F.relu(x, True)", "F.relu: it takes at most one positional argument here"),
        ("y = F.normalize(x, 2.0, 1, 1e-12, x)", "F.normalize: it takes at most 4"),
        ("y = torch.norm(x, 2, 1, False, x)", "torch.norm: it takes at most 4"),
        ("y = F.dropout(x, 0.1, True, True)", "F.dropout: it takes at most 3"),
        ("y = F.embedding(tokens, x, None, 1.0)", "the next position (max_norm) writes"),
        ("y = torch.sort(x, 1, False, values=x)", "values= writes"),
        ("f = F.relu", "F.relu may only be called, not kept or passed"),
        ("y = x.clamp(0.0, 1.0, x)", ".clamp: it takes at most 2"),
    ],
)
def test_grokking_refuses_write_slots_by_position(line, reason):
    with pytest.raises(StaticCheckError) as err:
        check_edits(_edit_forward(line))
    assert reason in str(err.value)


INIT = "        self.norm = nn.LayerNorm(D_MODEL)\n"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("self.act = nn.ReLU(True)", "nn.ReLU: it takes no positional argument"),
        ("self.drop = nn.Dropout(0.1, True)", "nn.Dropout: it takes at most one"),
        ("self.look = nn.Embedding(vocab, D_MODEL, None, 1.0)", "nn.Embedding: it takes at most 3"),
        ("self.kind = nn.Embedding", "nn.Embedding may only be called"),
    ],
)
def test_grokking_refuses_write_slots_of_layers(line, reason):
    edits = f"<<<<<<< SEARCH\n{INIT}=======\n{INIT}        {line}\n>>>>>>> REPLACE\n"
    with pytest.raises(StaticCheckError) as err:
        check_edits(edits)
    assert reason in str(err.value)


def test_grokking_accepts_honest_calls_and_types_in_isinstance():
    check_edits(_edit_forward("x = F.gelu(x) + torch.clamp(x, -1.0, 1.0).mean(1, True)"))
    check_edits(
        f"<<<<<<< SEARCH\n{INIT}=======\n{INIT}"
        "        self.act = nn.LeakyReLU(0.1)\n"
        "        ok = isinstance(self.norm, (nn.Linear, nn.Embedding))\n>>>>>>> REPLACE\n"
    )


# --- the fuzz: no allowed call writes -------------------------------------------------------

FUZZ = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _values(numpy: bool) -> st.SearchStrategy[Any]:
    """Arguments of every kind an allowed callable takes: tensors (or arrays) of floats, ints and
    booleans, small numbers, flags, None, shapes, lists of tensors and a few words."""

    def floats(_: int) -> Any:
        a = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
        return a if numpy else torch.from_numpy(a)

    def ints(_: int) -> Any:
        a = np.arange(12).reshape(3, 4) % 3
        return a if numpy else torch.from_numpy(a)

    def bools(_: int) -> Any:
        a = np.arange(12).reshape(3, 4) % 2 == 0
        return a if numpy else torch.from_numpy(a)

    fresh = st.sampled_from([floats, ints, bools]).map(lambda make: make(0))
    return st.one_of(
        fresh,
        st.integers(-1, 3),
        st.sampled_from([0.5, -1.0, 2.0, True, False, None, (3, 4), (2,), "mean", "fro"]),
        st.lists(fresh, min_size=1, max_size=2),
    )


def _tensors(values: Any) -> list[Any]:
    found, stack = [], [values]
    while stack:
        v = stack.pop()
        if isinstance(v, torch.Tensor | np.ndarray):
            found.append(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return found


def _snapshot(values: Any) -> list[tuple[Any, Any, int]]:
    out = []
    for t in _tensors(values):
        if isinstance(t, torch.Tensor):
            out.append((t, t.clone(), t._version))
        else:
            out.append((t, t.copy(), 0))
    return out


def _unchanged(snapshot: list[tuple[Any, Any, int]]) -> bool:
    for t, copy, version in snapshot:
        if isinstance(t, torch.Tensor):
            if t._version != version or not torch.equal(t, copy):
                return False
        elif t.shape != copy.shape or not np.array_equal(t, copy, equal_nan=True):
            return False
    return True


def _parameter_names(slots: signatures.Slots) -> list[str]:
    return sorted(slots.keywords | slots.writes | signatures.WRITE_NAMES)


def _call_allowed(fn: Any, slots: signatures.Slots, data: Any, numpy: bool) -> Any:
    """Draw a call (mostly within the table's positions and keywords, sometimes beyond), ask
    the table, and make it if the table allows it; what it returned."""
    limit = 4 if slots.positional is None else slots.positional
    n = data.draw(st.integers(0, limit) | st.integers(0, limit + 2))
    pool = sorted(slots.keywords) or _parameter_names(slots)
    names = data.draw(
        st.lists(
            st.sampled_from(pool) | st.sampled_from(_parameter_names(slots)),
            max_size=2,
            unique=True,
        )
    )
    if slots.refusal(n, False, names) is not None:
        return None
    first = data.draw(st.booleans())
    args = [data.draw(_values(numpy)) for _ in range(n)]
    if args and first:
        args[0] = torch.randn(3, 4) if not numpy else np.ones((3, 4))
    return _call(fn, args, {k: data.draw(_values(numpy)) for k in names})


def _call(fn: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call ``fn``; assert it wrote none of the tensors or arrays it was given."""
    before = _snapshot([args, kwargs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(*args, **kwargs)
        except Exception:  # a refused argument: fine, as long as nothing was written
            result = None
    assert _unchanged(before), f"{fn} wrote a value it was given: {args} {kwargs}"
    return result


def _defaults(fn: Any) -> list[Any]:
    """The default values of ``fn``'s positions (a bound method's after its value) where
    Python knows them, 1 where it does not, so that a sweep can fill one position and keep
    those before it sane."""
    sig = signatures._signature(fn)
    if sig is None:
        return []
    return [
        1 if p.default is inspect.Parameter.empty else p.default for p in sig.parameters.values()
    ]


def _sweep(fn: Any, slots: signatures.Slots, numpy: bool, method: bool = False) -> None:
    """Every allowed position, then every allowed keyword, filled with a tensor (an array), a
    true flag and a number, the positions before it holding their defaults (or the same
    filler): a write slot the table let through is filled at least once."""
    tensor = (lambda: np.ones((3, 4))) if numpy else (lambda: torch.randn(3, 4))
    fillers = (tensor, lambda: True, lambda: 1)
    limit = 4 if slots.positional is None else slots.positional
    first = [] if method else [tensor()]
    defaults = _defaults(fn)
    for fill in fillers:
        for n in range(len(first), limit):
            sane = [1 if i >= len(defaults) else defaults[i] for i in range(len(first), n)]
            _call(fn, [*first, *sane, fill()], {})
            _call(fn, [*first, *[fill() for _ in range(len(first), n)], fill()], {})
        for name in slots.keywords:
            _call(fn, list(first), {name: fill()})


@pytest.mark.parametrize("path", [p for p in PATHS if p != "torch.Tensor"])
def test_no_allowed_position_or_keyword_writes(path):
    _sweep(signatures.resolve(path), signatures.for_path(path), path.startswith("numpy"))


@pytest.mark.slow  # every callable fuzzed; the sweep above covers each in make unit
@pytest.mark.parametrize("path", [p for p in PATHS if p != "torch.Tensor"])
@FUZZ
@given(data=st.data())
def test_no_allowed_call_writes_an_argument(path, data):
    fn = signatures.resolve(path)
    slots = signatures.for_path(path)
    assert slots is not None
    numpy = path.startswith("numpy")
    made = _call_allowed(fn, slots, data, numpy)
    if isinstance(made, torch.nn.Module):  # a layer writes when it runs, if at all
        x = torch.randn(3, 4)
        before = _snapshot([x, list(made.parameters())])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(Exception):
                made(x)
        assert _unchanged(before), f"{path} built a layer that writes: {made}"


def _receiver(kind: str) -> Any:
    return {
        "tensor": torch.randn(3, 4),
        "ndarray": np.random.default_rng(1).normal(size=(3, 4)),
        "module": torch.nn.Linear(4, 4),
    }.get(kind)


# Methods that change the value they are called on by design, allowed where the task's code may
# write its own values: preprocess works on the runner's copies (as X[i] = ... does there), and
# a grokking block fills a list only while __init__ builds it.
IN_PLACE = {("sort", "ndarray"), ("fill", "ndarray")}


@pytest.mark.slow  # every method fuzzed; the sweep covers each in make unit
@pytest.mark.parametrize(("name", "kinds"), METHODS)
@FUZZ
@given(data=st.data())
def test_no_allowed_method_call_writes(name, kinds, data):
    slots = signatures.for_method(name, kinds)
    if slots is None:
        return  # an attribute
    for kind in kinds:
        value = _receiver(kind)
        method = getattr(value, name, None)
        if value is None or not callable(method) or (name, kind) in IN_PLACE:
            continue
        before = _snapshot([value, list(value.parameters())] if kind == "module" else [value])
        _call_allowed(method, slots, data, numpy=kind == "ndarray")
        assert _unchanged(before), f".{name} wrote the {kind} it was called on"


@pytest.mark.parametrize(("name", "kinds"), METHODS)
def test_no_allowed_method_position_or_keyword_writes(name, kinds):
    slots = signatures.for_method(name, kinds)
    for kind in kinds if slots is not None else ():
        value = _receiver(kind)
        method = getattr(value, name, None)
        if value is None or not callable(method) or (name, kind) in IN_PLACE:
            continue
        before = _snapshot([value, list(value.parameters())] if kind == "module" else [value])
        _sweep(method, slots, numpy=kind == "ndarray", method=True)
        assert _unchanged(before), f".{name} wrote the {kind} it was called on"


@pytest.mark.slow
def test_the_fuzz_finds_a_write_slot_the_table_would_let_through():
    """The sweep and the fuzz are not vacuous: given a table that forgot F.relu's in-place flag
    and torch.norm's out (its fifth position), the sweep finds both writes, and the random
    fuzz the first (the second needs sane values in the four positions before it)."""
    leaky = {
        "F.relu": signatures.Slots(2, frozenset({"input"}), frozenset()),
        "torch.norm": signatures.Slots(5, frozenset({"input", "p"}), frozenset()),
    }
    for path, slots in leaky.items():
        fn = signatures.resolve(path)

        @settings(max_examples=200, deadline=None, derandomize=True, database=None)
        @given(data=st.data())
        def probe(data):
            _call_allowed(fn, slots, data, numpy=False)  # noqa: B023 (run before the next)

        if path == "F.relu":
            with pytest.raises(AssertionError, match="wrote a value it was given"):
                probe()
        with pytest.raises(AssertionError, match="wrote a value it was given"):
            _sweep(fn, slots, numpy=False)


LAYER_ARGS = {
    "Linear": (4, 4),
    "Bilinear": (4, 4, 4),
    "Embedding": (5, 4),
    "LayerNorm": (4,),
    "RMSNorm": (4,),
    "GroupNorm": (2, 4),
    "BatchNorm1d": (4,),
    "MultiheadAttention": (4, 2),
    "TransformerEncoderLayer": (4, 2),
    "Conv1d": (4, 4, 3),
    "Unflatten": (1, (2, 2)),
    "Parameter": (torch.zeros(2),),
}


@pytest.mark.parametrize("name", sorted(allowlist.NN_LAYERS))
def test_no_layer_holds_a_function_a_block_could_reach(name):
    """A layer attribute holding a plain function could be called with any arguments: a block
    may not define an attribute of that name, so it can never read it."""
    layer = getattr(torch.nn, name)(*LAYER_ARGS.get(name, ()))
    for attr, value in vars(layer).items():
        if callable(value) and not isinstance(value, torch.nn.Module | torch.Tensor):
            assert attr in allowlist.dangerous_attributes(), (name, attr)


def test_a_layer_function_cannot_be_reached_through_a_block_attribute():
    edits = (
        f"<<<<<<< SEARCH\n{INIT}=======\n{INIT}"
        "        self.enc = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, activation='relu')\n"
        "        self.activation = nn.GELU()\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(StaticCheckError, match="activation is a name of"):
        check_edits(edits)


def test_batchnorm_with_running_statistics_is_refused_before_a_container_starts():
    """Running statistics change while training outside the optimizer's step (a red-team case
    kept the answers there): refused by the check, as the run-time check would."""
    line = "        self.bn = nn.BatchNorm1d(4)\n"
    tracked = f"<<<<<<< SEARCH\n{INIT}=======\n{INIT}{line}>>>>>>> REPLACE\n"
    with pytest.raises(StaticCheckError, match="pass track_running_stats=False"):
        check_edits(tracked)
    check_edits(tracked.replace("(4)", "(4, track_running_stats=False)"))
