"""The novelty archive on a real Chroma store on disk with the real offline embedding model."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from evaluators.fingerprint import fingerprint, same_behaviour, similarity
from evaluators.novelty import NoveltyArchive
from tests.fakes import PTS, entry, fp

pytestmark = pytest.mark.slow


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


@pytest.mark.slow
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
    from store.ledger import Ledger
    from tests.fakes import FakeEvaluator, models, proposal, start

    archive = NoveltyArchive(tmp_path / "chroma")
    folder, info = start(tmp_path, proposals=2, batch=1, full_top_k=0)
    props = [
        proposal("x * torch.sigmoid(x)", idea="sigmoid gate"),
        proposal("x * torch.sigmoid(2.0 * x)", idea="steeper sigmoid gate"),
    ]
    campaign.run(
        folder,
        campaign.Services(
            FakeEvaluator(), models(props), retries=0, archive=archive, generator="fake-llm"
        ),
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


FUNCTIONS = {
    "relu": (lambda x: np.maximum(x, 0), 0.55),
    "leaky": (lambda x: np.maximum(x, 0.1 * x), 0.6),
    "swish": (lambda x: x * sigmoid(x), 0.7),
    "swish2": (lambda x: x * sigmoid(2 * x), 0.68),
    "gelu-ish": (lambda x: x * sigmoid(1.702 * x), 0.69),
    "tanh": (np.tanh, 0.4),
    "tanh2": (lambda x: np.tanh(2 * x), 0.35),
    "softsign": (lambda x: x / (1 + np.abs(x)), 0.38),
    "sin": (np.sin, 0.1),
    "cos-gate": (lambda x: x * np.cos(x), 0.05),
    "square": (np.square, 0.15),
    "softplus": (lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0), 0.58),
}


@pytest.mark.slow
def test_reward_model_ranks_prunes_and_reports_to_the_proposer(tmp_path):
    """A real archive of 12 measured hypotheses from an earlier campaign: the next campaign's
    reward model predicts, prunes to the top 1, records the predictions, and the proposer's
    next prompt carries them; a proposal behaving exactly like an archived one reuses it."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from hypoforge import campaign
    from store.ledger import Ledger
    from tests.fakes import FakeEvaluator, models, proposal, start

    archive = NoveltyArchive(tmp_path / "chroma")
    for i, (name, (f, wr)) in enumerate(FUNCTIONS.items()):
        archive.add(entry(i, name, f"# {name}", f(PTS), win_rate=wr))
    examples = archive.examples("activation")
    assert len(examples) == 12 and all(e.target is not None for e in examples)

    prompts: list[str] = []

    class Recording(FakeListChatModel):
        def _call(self, messages, *args, **kwargs):
            prompts.append(messages[-1].content)
            return super()._call(messages, *args, **kwargs)

    folder, info = start(tmp_path, proposals=4, batch=3, screen_top_k=1, full_top_k=0)
    props = [
        proposal("x * torch.sigmoid(1.5 * x)", "a sigmoid gate"),
        proposal("torch.sin(2.0 * x) * 0.5 + torch.cos(x)", "a wave"),
        proposal("torch.tanh(3.0 * x)", "a steep tanh"),
        proposal("x / (1 + torch.exp(-x))", "a logistic ratio"),  # behaves like "swish"
    ]
    ms = models(props)
    ms["proposer"] = Recording(responses=props)
    campaign.run(
        folder,
        campaign.Services(FakeEvaluator(), ms, retries=0, archive=archive, generator="fake-llm"),
    )
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    first_round = rows[:3]
    assert all(r.predicted is not None for r in first_round)
    assert [r.stage for r in first_round].count("pruned") == 2
    kept = next(r for r in first_round if r.stage != "pruned")
    assert kept.predicted == max(r.predicted for r in first_round)  # no bonus needed here
    assert kept.id == "r0-0"  # the gate, near the archive's best, over the wave and the tanh
    assert ledger.events(info.id, "ranked")
    # The next round's prompt shows the model's predictions and the archive's best ideas.
    assert "reward model predicted" in prompts[3] and "pruned before running" in prompts[3]
    assert "swish" in prompts[3]
    twin = rows[3]
    assert (twin.stage, twin.duplicate_of) == ("duplicate", "c1/h2")
    assert twin.screen_win_rate == pytest.approx(0.7)
    from hypoforge.report import write_report

    report = write_report(folder)
    assert (report.parent / "reward.png").read_bytes()[:4] == b"\x89PNG"
    assert "pruned: predicted win rate" in report.read_text()


@pytest.mark.slow
def test_reward_eval_command_on_an_archive_folder(tmp_path):
    import json

    from typer.testing import CliRunner

    from hypoforge import cli

    archive = NoveltyArchive(tmp_path / "chroma")
    i = 0
    for scale in (0.5, 1.0, 1.5, 2.0):
        for name, (f, wr) in FUNCTIONS.items():
            values = f(scale * PTS)
            archive.add(entry(i, f"{name} at {scale}", f"# {name} {scale}", values, win_rate=wr))
            i += 1
    png = tmp_path / "curves.png"
    res = CliRunner().invoke(cli.app, ["reward", "eval", str(tmp_path / "chroma"), "--plot", png])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "48 hypotheses, 48 labelled" in res.output
    assert "Kendall tau" in res.output
    res = CliRunner().invoke(cli.app, ["reward", "eval", str(tmp_path / "chroma"), "--json"])
    figures = json.loads(res.output)
    assert figures["labelled"] == 48
    for kind in ("gp", "ridge"):
        held = figures[kind]["by time (newest 30%)"]
        assert held["n"] == 15  # 30% of 48, all passed the probe
        assert -1 <= held["kendall_tau"] <= 1 and held["discovery_auc_vs_random"] > 0


def test_a_flagged_result_is_remembered_as_no_win_and_never_offered_as_a_lead(tmp_path):
    """A run the harness flagged (say, a bigger model) is archived with outcome "flagged": the
    reward model learns it as winning nothing and the next campaign's proposer is not shown it
    among the best ideas; an unflagged result of the same campaign is."""
    from core.records import EvalReport
    from hypoforge import campaign
    from tests.fakes import FakeEvaluator, Recording, models, proposal, start

    class Flagging(FakeEvaluator):
        def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
            report = super().evaluate(source, budget)
            if "3.0" in source:
                return report.model_copy(update={"flags": ("2.0x the template's parameters",)})
            return report

    archive = NoveltyArchive(tmp_path / "chroma")
    first, _ = start(tmp_path / "a", proposals=2, batch=2, full_top_k=0)
    props = [
        proposal("x * torch.sigmoid(3.0 * x)", idea="the wide gate"),
        proposal("x * torch.tanh(x)", idea="the tanh gate"),
    ]
    campaign.run(
        first,
        campaign.Services(Flagging(), models(props), retries=0, archive=archive, generator="g"),
    )
    remembered = {e.idea: e for e in archive.examples("activation")}
    assert remembered["the wide gate"].outcome == "flagged"
    assert remembered["the wide gate"].target == 0.0  # what the reward model learns
    assert remembered["the tanh gate"].outcome == "ok" and remembered["the tanh gate"].target

    second, _ = start(tmp_path / "b", proposals=1, batch=1)
    ms = models([proposal("torch.relu(x)", idea="relu")])
    ms["proposer"] = Recording(responses=ms["proposer"].responses)
    campaign.run(
        second, campaign.Services(FakeEvaluator(), ms, retries=0, archive=archive, generator="g")
    )
    told = ms["proposer"].asked[0]
    assert "- the tanh gate: win rate" in told
    assert "the wide gate" not in told
