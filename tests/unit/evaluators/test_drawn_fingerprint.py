"""Fingerprints from points the host draws (issue 24): a published function marked where the
fixed probe grid lies, or anywhere of measure zero, trains like the published one and is called
that one by the catalogue match, ``hypoforge novelty --code``, duplicate detection and the
reward model's features; an honest new function still matches nothing; fixed-grid fingerprints
of older ledgers, caches and archives load and compare with nothing.

The sandbox here is a fake that runs the runner's own probe (``runner._probe``) in this process
on the job the host wrote: the code it runs is this test's and the catalogue's (trusted), never
a hypothesis's. The same path through Docker is ``tests/integration/test_drawn_fingerprint.py``.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from evaluators import catalogue, reward
from evaluators.activation import runner
from evaluators.activation.harness import ActivationEvaluator, drawn_fingerprint, probe_values
from evaluators.fingerprint import DIM, current, same_behaviour
from evaluators.kit.budgets import get_budget
from evaluators.registry import get
from tests.fakes import SMALL_SPLITS, ProbingSandbox

HEAD = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return "
GELU = HEAD + "F.gelu(x)\n"
MARKED = {  # GELU with a mark no training input meets, as an adversary would write it
    "zero-gradient mark on every fixed grid point": HEAD
    + "torch.where(torch.round(x * 10) / 10 == x, torch.zeros_like(x), F.gelu(x))\n",
    "a float the fixed grid holds": HEAD
    + "torch.where(x == 0.1, torch.zeros_like(x), F.gelu(x))\n",
    "a flip in a region of measure about zero": HEAD
    + "torch.where(torch.abs(x - 0.3) < 1e-7, -F.gelu(x), F.gelu(x))\n",
    "a tiny bump": HEAD + "F.gelu(x) + 1e-4 * torch.relu(1 - torch.abs(x - 1.0) * 1e4)\n",
}
GRID_MARK = MARKED["zero-gradient mark on every fixed grid point"]
NEW = HEAD + "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)\n"  # matches nothing published
CITATION = "arXiv:1606.08415"  # Hendrycks and Gimpel (2016), the GELU paper


def evaluator(home: Path) -> ActivationEvaluator:
    return ActivationEvaluator(ProbingSandbox(), home, splits=SMALL_SPLITS)


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> list[tuple[catalogue.Component, list[float]]]:
    """The catalogue's fingerprints, probed together as ``graph.literature`` probes them."""
    entries = [c for c in catalogue.load(get("activation").folder) if c.code]
    ev = evaluator(tmp_path_factory.mktemp("home"))
    found = ev.probe_many({c.name: c.code or "" for c in entries}, together=True)
    return [(c, fp) for c in entries if (fp := found[c.name].fingerprint) is not None]


def probed(home: Path, source: str) -> list[float]:
    (probe,) = evaluator(home).probe_many({"h": source}).values()
    assert probe.problem is None and probe.fingerprint is not None
    return probe.fingerprint


def test_each_job_draws_its_own_fingerprint_points(tmp_path):
    """No fixed set of points exists to mark: two jobs draw different fingerprint points that
    cover the window, after the fixed points both share (a float32 may recur by chance)."""
    ev = evaluator(tmp_path)
    jobs = [ev.make_job({"c": GELU}, get_budget("one-pass"), "t") for _ in range(2)]
    fixed = runner.probe_points()
    drawn = []
    for job in jobs:
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        points = runner.unpacked(
            json.loads((in_dir / "job.json").read_text())["checks"]["probe"]["points"], "<f4"
        )
        window = points[len(fixed) :]
        window = window[np.abs(window) <= 5.0]
        assert len(window) > 5000 and np.max(np.diff(np.sort(window))) < 0.01
        drawn.append(set(window.tolist()))
    assert len(drawn[0] & drawn[1]) < 0.01 * len(drawn[0])


@pytest.mark.parametrize("variant", sorted(MARKED))
def test_a_marked_gelu_is_gelu_with_its_citation(tmp_path, known, variant):
    mine = probed(tmp_path, MARKED[variant])
    found = catalogue.match(mine, known)
    assert found is not None
    component, kind, gap = found
    assert (component.name, kind) == ("GELU", "same")
    assert component.reference.cite().endswith(f"{CITATION}.") and gap <= 1e-3
    assert same_behaviour(mine, probed(tmp_path, GELU))  # a duplicate of plain GELU
    plain = next(fp for c, fp in known if c.name == "GELU")
    sim = reward.similarity_matrix([np.asarray(mine), np.asarray(plain)])
    assert sim[0, 1] > 0.9999  # the reward model's fingerprint block sees GELU


def test_the_mark_is_real_on_the_fixed_grid_and_unseen_on_the_drawn_points(tmp_path):
    """What the fixed grid alone would have read (the attack of issue 24): every grid point
    marked; the drawn points read GELU."""
    ev = evaluator(tmp_path)
    out = {}
    for name, source in (("plain", GELU), ("marked", GRID_MARK)):
        ev.probe_many({name: source})
        out[name] = ev.sandbox.jobs[-1].out_dir
    (fixed, plain), (_, marked) = (probe_values(out[n], n) or (None, None) for n in out)
    on = np.abs(fixed) >= 0.1  # all but 0 and ±1e-6: every one a multiple of 0.1
    assert not marked[on].any() and np.count_nonzero(plain[on]) > 200
    assert same_behaviour(
        drawn_fingerprint(out["plain"], "plain"), drawn_fingerprint(out["marked"], "marked")
    )


def test_an_honest_new_function_matches_nothing(tmp_path, known):
    mine = probed(tmp_path, NEW)
    assert catalogue.match(mine, known) is None
    assert not same_behaviour(mine, probed(tmp_path, GELU))


@pytest.mark.slow
def test_the_novelty_command_names_gelu_for_a_marked_one(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hypoforge import cli
    from hypoforge.cli import common
    from hypoforge.cli import novelty as command

    @contextmanager
    def session(config, *args, **kwargs):
        yield common.load_settings(config), ProbingSandbox()

    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(command, "session", session)
    code = tmp_path / "marked.py"
    for source, expected in ((GRID_MARK, "same as GELU"), (NEW, None)):
        code.write_text(source)
        res = CliRunner().invoke(cli.app, ["novelty", "a gate", "--code", str(code), "--json"])
        assert res.exit_code == 0, res.output
        found = json.loads(res.stdout)["by_behaviour"]
        assert found["match"] == expected
        if expected:
            assert found["citation"].endswith(f"{CITATION}.")


@pytest.mark.slow  # a whole campaign, with the embedding model
def test_a_marked_gelu_is_a_duplicate_of_gelu_in_a_campaign(tmp_path):
    from core.records import Stage
    from hypoforge import campaign
    from store.ledger import Ledger
    from tests.fakes import FakeEvaluator, models, proposal, start

    marked = "torch.where(torch.round(x * 10) / 10 == x, torch.zeros_like(x), F.gelu(x))"
    props = [
        proposal("torch.nn.functional.gelu(x)", idea="plain"),
        proposal(marked.replace("F.gelu", "torch.nn.functional.gelu"), idea="marked"),
    ]
    folder, info = start(tmp_path, allow_known="yes", proposals=2, batch=2)
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    rows = {r.idea: r for r in Ledger(folder / "ledger.sqlite").hypotheses(info.id)}
    assert rows["plain"].known == rows["marked"].known == "same as GELU"
    assert rows["marked"].stage is Stage.DUPLICATE
    assert rows["marked"].duplicate_of == f"{info.id}/{rows['plain'].id}"


OLD = [float(v) for v in np.linspace(-1, 1, 205) / np.linalg.norm(np.linspace(-1, 1, 205))]


def test_fixed_grid_fingerprints_of_earlier_versions_load_and_compare_with_nothing(tmp_path, known):
    """An older ledger, catalogue cache or archive holds 205-number fixed-grid fingerprints:
    they are read as none (no match, no twin, no reward feature) and nothing crashes."""
    from graph import literature
    from graph.selection import _stale

    assert current(OLD) is None and len(known[0][1]) == DIM
    assert catalogue.match(OLD, known) is None
    assert catalogue.match(known[0][1], [(known[0][0], OLD)]) is None
    assert not same_behaviour(OLD, OLD)
    assert _stale(("", OLD)) and _stale(None) and not _stale((None, known[0][1]))
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps({"old": OLD, "new": known[0][1], "failed": None}))
    assert set(literature._read(cache)) == {"new", "failed"}  # "old" is probed again
    rows = reward._unit_rows([np.asarray(OLD), np.asarray(known[0][1])], DIM)
    assert not rows[0].any() and rows[1].any()


def test_an_attempt_folder_of_an_earlier_version_gives_no_fingerprint(tmp_path):
    """Few drawn points (as jobs drew before): too sparse to interpolate, so None."""
    ev = evaluator(tmp_path)
    ev.probe_many({"h": GELU})
    out = ev.sandbox.jobs[-1].out_dir
    job = out.parent / "in" / "job.json"
    spec = json.loads(job.read_text())
    probe = spec["checks"]["probe"]
    fixed = len(runner.probe_points())
    keep = list(range(fixed + 150))  # the fixed points and 150 drawn ones
    y = np.load(out / "h.probe_y.npy")
    values = runner._unshuffle(y, runner.unpacked(probe["order"], "<i4"))
    probe["points"] = runner.unpacked(probe["points"], "<f4")[keep].tolist()  # as jobs wrote it
    probe["order"] = list(range(len(keep)))
    job.write_text(json.dumps(spec))
    np.save(out / "h.probe_y.npy", values[keep])
    assert drawn_fingerprint(out, "h") is None


@pytest.mark.slow
def test_the_archive_finds_gelu_as_the_twin_and_an_old_archive_still_opens(tmp_path):
    """An archive written before (its fixed-grid ``behaviours`` collection) opens; its old
    fingerprints are not read; a marked GELU's twin is the archived plain GELU."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from evaluators.novelty import ArchiveEntry, NoveltyArchive

    def entry(i: int, code: str, fp: list[float]) -> ArchiveEntry:
        return ArchiveEntry(
            id=f"c1/h{i}", task="activation", campaign="c1", generator="test", idea=f"idea {i}",
            code=code, outcome="ok", win_rate=0.5, fingerprint=fp,
        )  # fmt: skip

    path = tmp_path / "chroma"
    old = chromadb.PersistentClient(str(path), ChromaSettings(anonymized_telemetry=False))
    legacy = old.get_or_create_collection("behaviours", embedding_function=None)
    legacy.upsert(ids=["c0/h0"], embeddings=[OLD], metadatas=[{"task": "activation"}])
    archive = NoveltyArchive(path)
    plain = entry(1, GELU, probed(tmp_path, GELU))
    archive.add(plain)
    archive.add(entry(2, NEW, OLD))
    twin = archive.behaviour_twin(probed(tmp_path, GRID_MARK), task="activation")
    assert twin is not None and twin.id == plain.id
    assert archive.behaviour_twin(OLD, task="activation") is None
    assert archive.behaviour_twin(probed(tmp_path, NEW), task="activation") is None
    by_id = {e.id: e for e in archive.examples("activation")}
    assert by_id["c1/h2"].fingerprint is None and by_id[plain.id].fingerprint is not None


def test_a_resumed_ledger_probes_again_what_it_holds_on_the_fixed_grid(tmp_path):
    """A probe an older version recorded (a fixed-grid fingerprint) is probed again, and until
    then it neither unmarks a known component nor counts as a twin."""
    from types import SimpleNamespace

    from core.records import HypothesisRow
    from graph import literature, selection
    from store.ledger import Ledger
    from tests.fakes import FakeEvaluator

    ledger = Ledger(tmp_path / "ledger.sqlite")
    (tmp_path / "h1.py").write_text(GRID_MARK)
    row = HypothesisRow(campaign="c", id="h1", round=0, mode="novel", idea="i", code_sha="s")
    ledger.put_probe("c", "h1", "s", None, OLD)
    prober = FakeEvaluator()
    deps = SimpleNamespace(
        ledger=ledger, campaign="c", prober=prober, workers=1, notify=lambda *a: None,
        code_path=lambda hid: tmp_path / f"{hid}.py",
    )  # fmt: skip
    assert selection._fingerprint(deps, row) is None
    known_row = row.model_copy(update={"known": "same as GELU", "citation": "x"})
    relu = catalogue.load(get("activation").folder)[0]
    assert literature.mark(deps, known_row, OLD, [(relu, OLD)]) == {}  # the mark stays
    selection.probe_code(deps, [row])
    assert prober.probed == ["h1"]
    fresh = selection._fingerprint(deps, row)
    assert fresh is not None and same_behaviour(fresh, probed(tmp_path, GELU))
    ledger.close()
