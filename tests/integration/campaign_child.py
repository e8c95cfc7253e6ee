"""A campaign process for the crash tests: the real Docker sandbox, SqliteSaver and ledger, with
scripted proposals (fake chat models) so that only the crash behaviour is under test.

Usage: python campaign_child.py FOLDER HOME [WORKERS [RAY_ADDRESS]]

With a Ray address the jobs run on that cluster's nodes (sandbox/ray_sandbox.py). An
infrastructure error pauses the campaign as the CLI does: exit 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from core.errors import InfraError
from core.settings import load_settings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from sandbox.base import Sandbox
from sandbox.docker_sandbox import DockerSandbox
from sandbox.ray_sandbox import RaySandbox
from store.ledger import Ledger

SPLITS = [datasets.split("iris", 0), datasets.split("moons", 0)]
EXPRESSIONS = [f"x * torch.sigmoid({k / 4:.2f} * x)" for k in range(1, 41)]


def main(folder: Path, home: Path, workers: int = 1, ray: str | None = None) -> None:
    settings = load_settings(env={"HYPOFORGE_HOME": str(home)})
    sandbox: Sandbox = (
        DockerSandbox(settings.sandbox, workers=workers)
        if ray is None
        else RaySandbox(settings.sandbox, ray, workers=workers)
    )
    sandbox.preflight()
    sandbox.reap_orphans()  # as the CLI does at every start
    ev = ActivationEvaluator(sandbox, home, settings.sandbox.limits, splits=SPLITS, wall_seconds=60)
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    done = len(ledger.hypotheses(info.id))
    ledger.close()
    # A resumed process continues the script where the ledger says the last one got to.
    replies = [
        f"IDEA: gate {i}\n```python\nimport torch\n\ndef activation(x):\n    return {e}\n```"
        for i, e in enumerate(EXPRESSIONS)
    ][done:]
    run = '{"decision": "run", "reasons": "ok", "p_win": 0.5}'
    models = {
        "proposer": FakeListChatModel(responses=replies),
        "critic": FakeListChatModel(responses=[run]),
        "coder": FakeListChatModel(responses=[replies[0]]),
        "analyst": FakeListChatModel(responses=["Summary."]),
    }
    from evaluators.novelty import NoveltyArchive

    archive = NoveltyArchive(folder.parent / "archive")  # real Chroma, beside the campaign
    try:
        campaign.run(
            folder,
            campaign.Services(
                ev, models, retries=0, archive=archive, generator="scripted", workers=workers
            ),
        )
    except InfraError as exc:
        print(f"campaign paused: {exc}", file=sys.stderr)
        sys.exit(3)
    finally:
        sandbox.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        Path(args[0]),
        Path(args[1]),
        int(args[2]) if len(args) > 2 else 1,
        args[3] if len(args) > 3 else None,
    )
