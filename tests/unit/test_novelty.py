"""The novelty archive on a real Chroma store on disk with the real offline embedding model."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from evaluators.activation import runner
from evaluators.fingerprint import fingerprint, same_behaviour, similarity
from evaluators.novelty import ArchiveEntry, NoveltyArchive

pytestmark = pytest.mark.slow
PTS = runner.probe_points().astype(np.float64)


def fp(values: np.ndarray) -> list[float]:
    return list(fingerprint(PTS, values.astype(np.float32)))


def sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))


SWISH_A = "import torch\n\ndef activation(x):\n    return x * torch.sigmoid(x)\n"
SWISH_B = "import torch\n\ndef activation(x):\n    return x / (1 + torch.exp(-x))\n"


def test_fingerprint_ignores_shift_and_scale_but_not_shape():
    a = fingerprint(PTS, PTS * sigmoid(PTS))
    with np.errstate(over="ignore"):
        b = fingerprint(PTS, PTS / (1 + np.exp(-PTS)))
    assert same_behaviour(a, b)
    assert same_behaviour(a, fingerprint(PTS, 3 * PTS * sigmoid(PTS) + 1))
    gelu_like = fingerprint(PTS, PTS * sigmoid(1.702 * PTS))
    assert not same_behaviour(a, gelu_like)
    assert similarity(a, gelu_like) > 0.95  # close, but a different hypothesis
    assert similarity(a, fingerprint(PTS, np.sin(PTS))) < 0.5


def entry(i, idea, code, values, outcome="ok", win_rate=0.5):
    return ArchiveEntry(
        id=f"c1/h{i}",
        task="activation",
        campaign="c1",
        generator="test",
        idea=idea,
        code=code,
        outcome=outcome,
        win_rate=win_rate,
        fingerprint=fp(values),
    )


def test_duplicates_by_code_and_by_behaviour_survive_reopening(tmp_path):
    archive = NoveltyArchive(tmp_path / "chroma")
    archive.add(entry(1, "sigmoid-gated identity", SWISH_A, PTS * sigmoid(PTS), win_rate=0.62))
    archive.add(
        entry(
            2,
            "sine wave",
            "import torch\n\ndef activation(x):\n    return torch.sin(x)\n",
            np.sin(PTS),
            outcome="ok",
            win_rate=0.1,
        )
    )
    archive.add(
        entry(
            3,
            "a crash",
            "def activation(x):\n    return x\n",
            PTS,
            outcome="hyp_error",
            win_rate=None,
        )
    )
    assert len(archive) == 3

    near = archive.nearest("x times the sigmoid of x", SWISH_A, k=2)
    assert near[0].id == "c1/h1"
    assert near[0].distance < 0.2 < near[1].distance
    assert near[0].win_rate == pytest.approx(0.62)

    with np.errstate(over="ignore"):
        twin = archive.behaviour_twin(fp(PTS / (1 + np.exp(-PTS))))
    assert twin is not None and twin.id == "c1/h1"
    assert archive.behaviour_twin(fp(PTS * sigmoid(1.702 * PTS))) is None

    # Another process reopens the same folder and sees the same archive.
    script = textwrap.dedent(f"""
        from pathlib import Path
        from evaluators.novelty import NoveltyArchive
        a = NoveltyArchive(Path({str(tmp_path / "chroma")!r}))
        n = a.nearest("sine", "torch.sin(x)", k=1)[0]
        print(len(a), n.id, n.outcome)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "c1/h2", "ok"]


def test_upsert_is_idempotent(tmp_path):
    archive = NoveltyArchive(tmp_path / "chroma")
    e = entry(1, "gate", SWISH_A, PTS * sigmoid(PTS))
    archive.add(e)
    archive.add(e.model_copy(update={"outcome": "timeout"}))
    assert len(archive) == 1
    assert archive.nearest("gate", SWISH_A, k=1)[0].outcome == "timeout"


def test_campaign_feeds_the_archive_and_shows_the_critic_its_neighbours(tmp_path):
    import json

    from hypoforge import campaign
    from hypoforge.ledger import Ledger
    from tests.unit.test_campaign_graph import FakeEvaluator, models, proposal, start

    archive = NoveltyArchive(tmp_path / "chroma")
    folder, info = start(tmp_path, proposals=2, batch=1, full_top_k=0)
    props = [
        proposal("x * torch.sigmoid(x)", idea="sigmoid gate"),
        proposal("x * torch.sigmoid(2.0 * x)", idea="steeper sigmoid gate"),
    ]
    campaign.run(
        folder, FakeEvaluator(), models(props), retries=0, archive=archive, generator="fake-llm"
    )
    assert len(archive) == 2
    near = archive.nearest("sigmoid gate", "x * torch.sigmoid(x)", k=1)[0]
    assert near.id == f"{info.id}/r0-0"
    assert near.outcome == "ok" and near.win_rate is not None
    events = Ledger(folder / "ledger.sqlite").events(info.id, "neighbours")
    first, second = (json.loads(detail) for _, _, detail in events)
    assert first == {"id": "r0-0", "neighbours": []}
    assert [n[0] for n in second["neighbours"]] == [f"{info.id}/r0-0"]
    # Reopened (as after a crash), the archive still holds both.
    assert len(NoveltyArchive(tmp_path / "chroma")) == 2
