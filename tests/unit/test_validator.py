import pytest

from evaluators.activation.validator import StaticCheckError, check_source

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
}

INVALID = {
    "syntax": ("def activation(x)\n    return x\n", "syntax error at line 1"),
    "no function": ("import torch\n", "exactly one function named 'activation', found []"),
    "wrong name": ("def act(x):\n    return x\n", "found ['act']"),
    "two functions": (
        "def helper(x):\n    return x\n\ndef activation(x):\n    return x\n",
        "found ['helper', 'activation']",
    ),
    "import os": ("import os\n\ndef activation(x):\n    return x\n", "import of os not allowed"),
    "from os": ("from os import path\n\ndef activation(x):\n    return x\n", "not allowed"),
    "open": ("def activation(x):\n    open('/etc/passwd')\n    return x\n", "names: open"),
    "eval": ("def activation(x):\n    return eval('x')\n", "names: eval"),
    "dunder": ("def activation(x):\n    return x.__class__\n", "dunder attribute '__class__'"),
    "getattr": ("def activation(x):\n    return getattr(x, 'relu')()\n", "names: getattr"),
    "attribute store": (
        "import torch\n\ndef activation(x):\n    torch.relu = 1\n    return x\n",
        "attribute assignment",
    ),
    "in-place item": ("def activation(x):\n    x[0] = 1.0\n    return x\n", "item assignment"),
    "while": ("def activation(x):\n    while True:\n        pass\n    return x\n", "While"),
    "lambda": ("def activation(x):\n    f = lambda y: y\n    return f(x)\n", "Lambda"),
    "torch.load": (
        "import torch\n\ndef activation(x):\n    return torch.load('m')\n",
        "torch.load is not an allowed operation",
    ),
    "numpy escape": ("def activation(x):\n    return x.numpy()\n", "method 'numpy'"),
    "chain on computed value": (
        "def activation(x):\n    return (x * 2).data.sigmoid()\n",
        "method 'data'",
    ),
    "two args": ("def activation(x, y):\n    return x\n", "exactly one argument"),
    "decorator": (
        "import torch\n\n@torch.no_grad\ndef activation(x):\n    return x\n",
        "decorators",
    ),
    "top-level call": (
        "import torch\ntorch.relu(1)\n\ndef activation(x):\n    return x\n",
        "only imports, constants",
    ),
    "too long": ("def activation(x):\n    return x\n" + "#" * 10_001, "longer than"),
}


@pytest.mark.parametrize("source", VALID.values(), ids=VALID.keys())
def test_valid_sources_pass(source):
    check_source(source)


@pytest.mark.parametrize(("source", "reason"), INVALID.values(), ids=INVALID.keys())
def test_invalid_sources_are_rejected_with_reason(source, reason):
    with pytest.raises(StaticCheckError) as info:
        check_source(source)
    assert reason in str(info.value)
