"""The hostile-hypothesis catalogue (evaluators/redteam.py) against the real sandbox: each case
gets exactly its outcome and reason, and leaves the host as it was (no container, no attempt
folder, no disk taken)."""

from __future__ import annotations

import io
import shutil

import pytest
from rich.console import Console

from core.records import Outcome
from evaluators import redteam
from hypoforge.console import print_eval
from tests.integration.conftest import own_containers


@pytest.fixture(scope="module")
def home(settings):
    return settings.home / "redteam-tests"


@pytest.mark.parametrize("case", redteam.CASES, ids=[f"{c.number}-{c.task}" for c in redteam.CASES])
def test_each_hostile_hypothesis_is_contained(case, docker_sandbox, settings, home):
    home.mkdir(parents=True, exist_ok=True)
    free_before = shutil.disk_usage(home).free
    found = redteam.run_case(case, docker_sandbox, home, settings.sandbox.limits)
    assert found.problem is None, found.problem
    assert found.report.status is case.expect
    assert own_containers(docker_sandbox) == []
    # The attempt's folder is gone (the retention setting keeps scored results only) and no
    # reserved space stayed behind; 64 MiB of slack for baselines and caches written meanwhile.
    assert shutil.disk_usage(home).free >= free_before - 64 * 2**20
    console = Console(file=io.StringIO(), width=120)
    print_eval(console, found.report)  # markup or escapes in the reason never break the display
    shown = console.file.getvalue()
    assert "\x1b" not in shown


def test_one_hypothesis_cannot_spoil_another_of_the_same_batch(docker_sandbox, settings, home):
    """evaluate_many runs each in its own container: a KeyboardInterrupt (which escapes
    ``except Exception``) and a writer of another's files change nothing for the honest one."""
    ev = redteam.small_evaluator("activation", docker_sandbox, home, settings.sandbox.limits)
    honest = "import torch\n\ndef activation(x):\n    return torch.tanh(x)\n"
    forger = redteam.ESCAPED + (
        "np = B.__import__('numpy')\n"
        "for s in ('iris', 'moons'):\n"
        "    np.save(f'/hf/out/honest.{s}-s0.npy', np.zeros((200, 3), dtype='float32'))\n"
    )
    reports = ev.evaluate_many(
        {
            "stop": redteam.ESCAPED + "raise B.KeyboardInterrupt()\n",
            "forger": forger,
            "honest": honest,
        },
        static_check=False,
    )
    alone = ev.evaluate(honest)
    assert reports["stop"].status is Outcome.INVALID
    assert "KeyboardInterrupt" in reports["stop"].reason
    assert reports["honest"].status is Outcome.OK
    assert reports["honest"].per_dataset == alone.per_dataset
    assert reports["honest"].win_rate == alone.win_rate
    assert own_containers(docker_sandbox) == []
