"""The activation task's static check (an allowlist of elementwise operations), the shared
bounded parse and the guard that makes every check total. Reasons are asserted exactly."""

import ast

import pytest

from evaluators.activation.validator import StaticCheckError, check_source
from evaluators.allowlists import ACTIVATION, PREPROCESS, REGULARIZER
from evaluators.static_check import MAX_DEPTH, SAFE_BUILTINS, parse, total

VALID = {
    "relu": "import torch\n\ndef activation(x):\n    return torch.relu(x)\n",
    "functional alias": (
        "import torch.nn.functional as F\n\ndef activation(x):\n    return F.gelu(x)\n"
    ),
    "from import": (
        "from torch.nn import functional as F\n\ndef activation(x):\n    return F.silu(x)\n"
    ),
    "constants and locals": (
        '"""doc"""\nimport math\nimport torch\nBETA = 1.5\nSHIFT = -0.1\n\n'
        "def activation(x):\n    g = torch.sigmoid(BETA * x)\n    return x * g + SHIFT * math.pi\n"
    ),
    "tensor methods": "def activation(x):\n    return x.sigmoid() * x.clamp(min=-3.0, max=3.0)\n",
    "special": "import torch\n\ndef activation(x):\n    return x * torch.special.expit(x)\n",
    "branches": (
        "import torch\n\ndef activation(x):\n    if True:\n        y = torch.tanh(x)\n"
        "    else:\n        y = x\n    return torch.where(x > 0, x, y)\n"
    ),
    "documented signature": (
        "import torch\n\ndef activation(x: torch.Tensor) -> torch.Tensor:\n"
        '    """Swish."""\n    return x * torch.sigmoid(x)\n'
    ),
    "from torch import Tensor": (
        "from torch import Tensor\nimport torch\n\ndef activation(x: Tensor) -> Tensor:\n"
        "    return torch.tanh(x)\n"
    ),
    "future annotations": (
        "from __future__ import annotations\nimport torch\n\n"
        "def activation(x: torch.Tensor) -> torch.Tensor:\n    return torch.relu(x)\n"
    ),
    "from math import": (
        "from math import pi, sqrt\nimport torch\nC = (0.5, -1.0)\nK = sqrt(2.0 / pi)\n\n"
        "def activation(x):\n    return x * torch.sigmoid(K * x)\n"
    ),
    "annotated local, string annotation": (
        "import torch\n\ndef activation(x: 'torch.Tensor') -> 'torch.Tensor':\n"
        "    y: torch.Tensor = torch.tanh(x)\n    return y\n"
    ),
    "two-argument max of scalars": (
        "import torch\nA = 0.5\n\ndef activation(x):\n    return torch.relu(x) * max(A, 0.1)\n"
    ),
    "loop over a literal tuple": (
        "import torch\n\ndef activation(x):\n    out = 0.0 * x\n    for s in (1.0, 2.0):\n"
        "        out += torch.tanh(s * x)\n    return out\n"
    ),
}

INVALID = {
    "syntax": ("def activation(x)\n    return x\n", "syntax error at line 1: expected ':'"),
    "no function": ("import torch\n", "expected exactly one function named 'activation', found []"),
    "wrong name": (
        "def act(x):\n    return x\n",
        "expected exactly one function named 'activation', found ['act']",
    ),
    "two functions": (
        "def helper(x):\n    return x\n\ndef activation(x):\n    return x\n",
        "expected exactly one function named 'activation', found ['helper', 'activation']",
    ),
    "import os": (
        "import os\n\ndef activation(x):\n    return x\n",
        "line 1: import of os is not allowed "
        "(allowed: math, torch, torch.nn, torch.nn.functional, torch.special)",
    ),
    "from os": (
        "from os import path\n\ndef activation(x):\n    return x\n",
        "line 1: import from os is not allowed",
    ),
    "from torch import a non-listed name": (
        "from torch import load\n\ndef activation(x):\n    return x\n",
        "line 1: torch.load is not an allowed torch name",
    ),
    "open": (
        "def activation(x):\n    open('/etc/passwd')\n    return x\n",
        "line 2: open is not an allowed builtin",
    ),
    "eval": (
        "def activation(x):\n    return eval('x')\n",
        "line 2: eval is not an allowed builtin",
    ),
    "dunder": (
        "def activation(x):\n    return x.__class__\n",
        "line 2: x.__class__: dunder and private attributes are not allowed",
    ),
    "getattr": (
        "def activation(x):\n    return getattr(x, 'relu')()\n",
        "line 2: getattr is not an allowed builtin",
    ),
    "attribute store": (
        "import torch\n\ndef activation(x):\n    torch.relu = 1\n    return x\n",
        "line 4: assignment to the attribute torch.relu is not allowed",
    ),
    "in-place item": (
        "def activation(x):\n    x[0] = 1.0\n    return x\n",
        "line 2: indexing is not allowed: it reads the batch, and an activation must be "
        "elementwise",
    ),
    "while": (
        "def activation(x):\n    while True:\n        pass\n    return x\n",
        "line 2: while loops are not allowed: a loop must be a bounded for loop",
    ),
    "lambda": (
        "def activation(x):\n    f = lambda y: y\n    return f(x)\n",
        "line 2: lambda is not allowed: define a helper with def or write the expression inline",
    ),
    "torch.load": (
        "import torch\n\ndef activation(x):\n    return torch.load('m')\n",
        "line 4: torch.load is not an allowed torch function",
    ),
    "numpy escape": (
        "def activation(x):\n    return x.numpy()\n",
        "line 2: x.numpy is not an allowed method or attribute",
    ),
    "chain on computed value": (
        "def activation(x):\n    return (x * 2).data.sigmoid()\n",
        "line 2: (...).data is not an allowed method or attribute",
    ),
    "two args": (
        "def activation(x, y):\n    return x\n",
        "line 1: activation must take exactly one argument: activation(x)",
    ),
    "decorator": (
        "import torch\n\n@torch.no_grad\ndef activation(x):\n    return x\n",
        "line 3: decorators are not allowed",
    ),
    "top-level call": (
        "import torch\ntorch.relu(1)\n\ndef activation(x):\n    return x\n",
        "line 2: only imports, a docstring, numeric constants and the function activation may "
        "be at the top level",
    ),
    "too long": (
        "def activation(x):\n    return x\n" + "#" * 10_001,
        "source is longer than 10000 bytes",
    ),
    "len of the batch": (
        "def activation(x):\n    return x * len(x)\n",
        "line 2: len is not an allowed builtin: it reads the batch, and an activation must be "
        "elementwise",
    ),
    "sum of the batch": (
        "def activation(x):\n    return x - sum(x)\n",
        "line 2: sum is not an allowed builtin: it reads the batch, and an activation must be "
        "elementwise",
    ),
    "max of one value": (
        "def activation(x):\n    return x / max(x)\n",
        "line 2: max of one value is not allowed: it reduces over the batch (use max of two or "
        "more values, or torch.maximum)",
    ),
    "annotation that is code": (
        "def activation(x: open('f')):\n    return x\n",
        "line 1: annotations must name types, not Call",
    ),
    "type used as a value": (
        "import torch\n\ndef activation(x):\n    return torch.Tensor(3)\n",
        "line 4: torch.Tensor is a type: only annotations and isinstance may use it",
    ),
    "shadowed builtin": (
        "import torch\nmax = 1.0\n\ndef activation(x):\n    return x\n",
        "line 2: the name max shadows a builtin",
    ),
    "other dunder import from __future__": (
        "from __future__ import division\n\ndef activation(x):\n    return x\n",
        "line 1: import from __future__ is not allowed",
    ),
}


@pytest.mark.parametrize("source", VALID.values(), ids=VALID.keys())
def test_valid_sources_pass(source):
    check_source(source)


@pytest.mark.parametrize(("source", "reason"), INVALID.values(), ids=INVALID.keys())
def test_invalid_sources_are_rejected_with_reason(source, reason):
    with pytest.raises(StaticCheckError) as info:
        check_source(source)
    assert str(info.value) == reason


def test_safe_builtins_are_the_runners_and_bound_every_policy():
    assert sorted(SAFE_BUILTINS) == (
        "abs all any bool dict divmod enumerate float int isinstance len list max min pow range "
        "reversed round slice sorted sum tuple zip".split()
    )
    assert isinstance(SAFE_BUILTINS, frozenset)
    for policy in (ACTIVATION, PREPROCESS, REGULARIZER):
        assert policy.builtins <= SAFE_BUILTINS
    assert not {"sum", "len", "range"} & ACTIVATION.builtins


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = 1\0", "syntax error: source code string cannot contain null bytes"),
        ("x = '\udcff'", "unreadable source: UnicodeEncodeError"),
        ("-" * 5000 + "x", "source is nested too deeply to read"),
        ("(" * 300 + ")" * 300, "syntax error at line 1: too many nested parentheses"),
        ("x = " + "9" * 5000, "syntax error at line 1: Exceeds the limit (4300 digits) for "
         "integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
         "to increase the limit - Consider hexadecimal for huge integer literals to avoid "
         "decimal conversion limits."),
        ("[" * 70 + "]" * 70, f"line 1: code is nested deeper than {MAX_DEPTH} levels"),
    ],
)  # fmt: skip
def test_parse_is_bounded_and_total(source, reason):
    with pytest.raises(StaticCheckError) as info:
        parse(source)
    assert str(info.value) == reason


def test_parse_accepts_the_depth_bound_and_returns_a_module():
    assert isinstance(parse("[" * 30 + "]" * 30), ast.Module)


def test_a_checkers_own_failure_becomes_a_refusal():
    @total
    def broken(source: str) -> None:
        raise KeyError(source)

    with pytest.raises(StaticCheckError) as info:
        broken("x")
    assert str(info.value) == "internal check failed: KeyError: 'x'"
    assert isinstance(info.value.__cause__, KeyError)
