"""Real campaign folders for the dashboard's tests (``hypoforge.campaign.create``, a ``Ledger``
and the lifecycle's transitions, as a campaign writes them) and a test client on the app."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from core.records import DatasetScore, EvalReport, HypothesisRow, Outcome
from core.settings import CampaignSettings
from hypoforge import campaign
from hypoforge.web.app import make_app
from store import lifecycle
from store.ledger import Ledger

TOKEN = "test-token-0123456789"
BASE = "http://127.0.0.1:8765"
WHO = "ada@web"
RELU = "import torch\n\n\ndef activation(x):\n    return torch.relu(x)\n"


def report(hid: str, win_rate: float, budget: str = "one-pass", **extra: Any) -> EvalReport:
    return EvalReport(
        task="activation",
        budget=budget,
        status=Outcome.OK,
        win_rate=win_rate,
        win_rate_ci=(win_rate - 0.1, win_rate + 0.1),
        comparisons=12,
        per_dataset={
            "iris": DatasetScore(
                candidate=0.91, baselines={"relu": 0.9, "gelu": 0.89}, win_rate=win_rate
            )
        },
        harness_version="test-1",
        code_sha=f"sha-{hid}",
        wall_seconds=3.5,
        split_set="selection",
        cells={"iris-s0": 0.91, "iris-s1": 0.92},
        cell_win_rates={"iris-s0": win_rate, "iris-s1": win_rate},
        **extra,
    )


def make_campaign(
    root: Path, name: str = "camp", idea: str = "a smooth gate", code: str = RELU
) -> tuple[Path, str]:
    """A campaign folder with: r0-0 screened (a result, a kept decision not yet taken), r0-1
    coded and r1-0 (r0-0's child) probed, both queued for a launch; r0-2 rejected by the
    critic; events from the orchestrator, the critic and the proposer. Every idea starts with
    ``idea``, every code file is ``code``. Returns (folder, campaign id)."""
    folder = root / name
    info = campaign.create(folder, "activation", CampaignSettings(allow_known="yes", proposals=20))
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        ledger.log(info.id, "orchestrator", "start", {"task": "activation"})
        ledger.log(info.id, "proposer", "proposal", {"n": 3})
        code_dir = folder / "hypotheses"
        code_dir.mkdir()

        def new(hid: str, round_: int, parent: str | None = None) -> HypothesisRow:
            row = HypothesisRow(
                campaign=info.id,
                id=hid,
                round=round_,
                mode="novel",
                idea=f"{idea} #{hid}",
                code_sha=f"sha-{hid}",
                parent=parent,
            )
            ledger.save(row)
            (code_dir / f"{hid}.py").write_text(code)
            return row

        row = new("r0-0", 0)
        row = ledger.apply(lifecycle.judged(row, "run", "looks promising", 0.7))
        row = ledger.apply(lifecycle.validated(row, None, 2))
        row = ledger.apply(lifecycle.probed(row, None, 2))
        row = ledger.apply(lifecycle.selected(row, 0.66))
        result = report("r0-0", 0.75)
        ledger.put_result("key-r0-0", info.id, "r0-0", result)
        ledger.apply(lifecycle.screened(row, result, "one-pass", 2))
        ledger.add_usage(info.id, tokens=1200, launches=2)

        row = new("r0-1", 0)
        row = ledger.apply(lifecycle.judged(row, "run", "worth a try", 0.55))
        ledger.apply(lifecycle.validated(row, None, 2))

        row = new("r0-2", 0)
        ledger.apply(lifecycle.judged(row, "reject", "the same as ReLU", 0.1))

        row = new("r1-0", 1, parent="r0-0")
        row = ledger.apply(lifecycle.judged(row, "run", "a refinement", 0.6))
        row = ledger.apply(lifecycle.validated(row, None, 2))
        ledger.apply(lifecycle.probed(row, None, 2))
    finally:
        ledger.close()
    return folder, info.id


def finish(folder: Path, cid: str, reason: str = "proposal budget reached (4/4)") -> None:
    """Log the orchestrator's stop: the graph ended."""
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.log(cid, "orchestrator", "stop", reason)
    ledger.close()


EDIT_RUNGS = "".join(
    f"[template.rungs.{r}]\nsteps = 10\nwall_seconds = 60\n" for r in ("one-pass", "short", "full")
)


def edit_task(task: Path, script: str, toml: str = "", template: str = "") -> Path:
    """The folder ``task`` made a template (edit) task named edity whose script, train.py, is
    ``script``; ``toml`` adds keys to task.toml's top level, ``template`` to its [template]."""
    task.mkdir()
    (task / "task.toml").write_text(
        'name = "edity"\nsummary = "s"\nslot = "edits()"\nkind = "template"\n'
        + toml
        + '[template]\nscript = "train.py"\n'
        + template
        + 'metric = "curve_area"\n'
        + EDIT_RUNGS
    )
    (task / "train.py").write_text(script)
    return task


def edit_campaign(root: Path, task: Path) -> tuple[Path, str]:
    """A campaign of the edit task ``task`` at root/campaigns/c with hypotheses r0-0 and r1-0
    (r0-0's child) and an empty hypotheses folder; the process's task path is left as it was
    (``campaign.create`` puts the task folder on it). Returns (folder, campaign id)."""
    folder = root / "campaigns" / "c"
    env = os.environ.get("HYPOFORGE_TASKS")
    info = campaign.create(folder, "edity", CampaignSettings(), task_folder=task)
    if env is None:
        os.environ.pop("HYPOFORGE_TASKS", None)
    else:
        os.environ["HYPOFORGE_TASKS"] = env
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        for hid, parent in (("r0-0", None), ("r1-0", "r0-0")):
            ledger.save(
                HypothesisRow(
                    campaign=info.id,
                    id=hid,
                    round=int(hid[1]),
                    mode="novel",
                    idea="an edit",
                    parent=parent,
                    code_sha=hid,
                )
            )
    finally:
        ledger.close()
    (folder / "hypotheses").mkdir()
    return folder, info.id


def app_for(dirs: list[Path], **options: Any) -> Any:
    settings = {
        "token": TOKEN,
        "require_token": False,
        "read_only": False,
        "who": WHO,
        "host": "127.0.0.1",
        "port": 8765,
        "poll": 0.05,
        "keepalive": 0.5,
    }
    settings.update(options)
    return make_app(dirs, **settings)


def client_for(dirs: list[Path], **options: Any) -> TestClient:
    return TestClient(app_for(dirs, **options), base_url=BASE, follow_redirects=False)


def asgi_scope(path: str, **extra: Any) -> dict[str, Any]:
    """An HTTP GET's ASGI scope for ``path`` exactly as given (no client normalising it), from
    a loopback client to the server's own host and port; ``extra`` adds or replaces keys."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8765")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
        **extra,
    }


def served_campaign(root: Path) -> tuple[Path, str, TestClient]:
    """``make_campaign`` under ``root`` and a loopback client on ``root``: (folder, campaign id,
    client), what a page or steering test starts from."""
    folder, cid = make_campaign(root)
    return folder, cid, client_for([root])


def steer_headers(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"X-Hypoforge-Token": token, "Content-Type": "application/json", **extra}


def post(client: TestClient, cid: str, action: str, body: Any, **headers: str) -> Any:
    return client.post(
        f"/c/{cid}/steer/{action}", content=json.dumps(body), headers=steer_headers(**headers)
    )
