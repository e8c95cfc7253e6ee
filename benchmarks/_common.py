"""Shared set-up for the benchmark scripts: settings, the real sandbox, an evaluator."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import load_settings  # noqa: E402
from evaluators.activation.harness import ActivationEvaluator  # noqa: E402
from sandbox.docker_sandbox import DockerSandbox  # noqa: E402

HYPOTHESES = {
    "relu": "import torch\n\ndef activation(x):\n    return torch.relu(x)\n",
    "swish-like": "import torch\n\ndef activation(x):\n    return x * torch.sigmoid(1.2 * x)\n",
    "softsign-mix": (
        "import torch.nn.functional as F\n\ndef activation(x):\n"
        "    return 0.5 * x + 0.5 * F.softsign(x) * x\n"
    ),
}


def evaluator() -> tuple[ActivationEvaluator, DockerSandbox]:
    settings = load_settings()
    sandbox = DockerSandbox(settings.sandbox)
    sandbox.preflight()
    return ActivationEvaluator(sandbox, settings.home, settings.sandbox.limits), sandbox
