"""Fingerprints compared where training goes (the red team's GELU with a zero-gradient step at
x < -4.5, where no pre-activation of the job's networks falls): the runner counts where the
pre-activations go, the host reads the counts with a total reader and keeps them with the
result, and the catalogue match and duplicates compare there. The marked GELU, ReLU and SiLU
train bit for bit like the published ones and are called them; an honest new function is not.

Everything runs here on code this test wrote (the runner's own training loop, trusted); the
same path through Docker is ``tests/integration/test_reach.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluators import catalogue
from evaluators.activation import runner
from evaluators.activation.harness import read_reach
from evaluators.fingerprint import (
    CANONICAL,
    FULL_SHARE,
    MIN_READ,
    STEP,
    WINDOW,
    draw_points,
    fingerprint,
    read_mask,
    reading,
    same_behaviour,
)
from evaluators.kit import datasets
from evaluators.kit.budgets import get_budget
from evaluators.registry import get

HEAD = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return "
STEP_MARK = " - 0.01 * (1.0 - torch.sign(x + 4.5))"  # zero gradient; only x < -4.5 moves
PUBLISHED = {"GELU": "F.gelu(x)", "ReLU": "torch.relu(x)", "SiLU": "F.silu(x)"}
CITED = {"GELU": "arXiv:1606.08415", "ReLU": "Nair", "SiLU": "arXiv:1702.03118"}
NEW = HEAD + "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)\n"  # matches nothing published
SPLITS = [datasets.split("iris", 0), datasets.split("moons", 0)]


def act(source: str):
    namespace: dict = {}
    exec(source, namespace)  # this test's own code
    return namespace["activation"]


def probe(source: str) -> list[float]:
    """The fingerprint as the host reads it: values at freshly drawn points."""
    pts = draw_points(np.random.default_rng())
    with torch.no_grad():
        y = act(source)(torch.from_numpy(pts)).numpy()
    fp = fingerprint(pts, y)
    assert fp is not None
    return [float(v) for v in fp]


def trained(
    source: str, out, name: str = "c", splits: list = SPLITS
) -> tuple[list[np.ndarray], tuple[float, ...]]:
    """Test logits per split and the reach, as the runner writes and the host reads them."""
    data: dict = {}
    for s in splits:
        data.update(s.public())
    counts: list[np.ndarray] = []
    train = get_budget("one-pass").train_config()
    logits = [runner.train_predict(act(source), data, s.name, train, None, counts) for s in splits]
    np.save(out / f"{name}.reach.npy", np.stack(counts), allow_pickle=False)
    reach = read_reach(out, name, len(splits))
    assert reach is not None
    return logits, reach


@pytest.fixture(scope="module")
def known() -> list[tuple[catalogue.Component, list[float]]]:
    entries = [c for c in catalogue.load(get("activation").folder) if c.code]
    return [(c, probe(c.code or "")) for c in entries]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[list[np.ndarray], tuple[float, ...]]]:
    out = tmp_path_factory.mktemp("out")
    sources = {"new": NEW}
    for name, expr in PUBLISHED.items():
        sources[name] = HEAD + expr + "\n"
        sources[f"marked {name}"] = HEAD + expr + STEP_MARK + "\n"
    return {name: trained(src, out, f"n{i}") for i, (name, src) in enumerate(sources.items())}


def test_the_runner_counts_cells_of_the_canonical_grid():
    assert runner.REACH_HALF == WINDOW and runner.REACH_STEP == STEP
    assert len(CANONICAL) + 2 == runner.REACH_SLOTS
    guard = runner.Watch(torch.relu, [], 0)
    guard(torch.tensor([-9.0, -4.97, 0.01, 4.96, 7.0, float("nan")]))
    guard(torch.tensor([[0.02, -0.02]]), final=True)
    counts = guard.counts()
    assert counts.shape == (2, runner.REACH_SLOTS) and counts.sum() == 8
    cell = {x: 1 + int(np.argmin(np.abs(CANONICAL - x))) for x in (-4.97, 0.01, 4.96)}
    assert counts[0, 0] == 1 and counts[0, -1] == 2  # below, above (NaN counts above)
    assert all(counts[0, c] == 1 for c in cell.values())
    assert counts[1, cell[0.01]] == 1 and counts[1].sum() == 2


@pytest.mark.parametrize("name", PUBLISHED)
def test_a_mark_where_no_pre_activation_goes_trains_bit_for_bit_alike(runs, name):
    plain, reach = runs[name]
    marked, marked_reach = runs[f"marked {name}"]
    assert all(np.array_equal(a, b) for a, b in zip(plain, marked, strict=True))
    assert marked_reach == reach
    below = CANONICAL < -4.5
    assert max(np.asarray(reach)[below]) == 0.0  # no pre-activation ever went there
    mask = read_mask(reach)
    assert mask is not None and not mask[below].any() and mask.sum() >= MIN_READ


@pytest.mark.parametrize("name", PUBLISHED)
def test_a_marked_published_function_is_called_it_where_it_trained(known, runs, name):
    fp = probe(HEAD + PUBLISHED[name] + STEP_MARK + "\n")
    whole = catalogue.match(fp, known)  # the probe alone: the red team's escape
    assert whole is None or whole[0].name != name or whole[1] != "same"
    found = catalogue.match(fp, known, list(runs[f"marked {name}"][1]))
    assert found is not None
    component, kind, gap = found
    assert (component.name, kind) == (name, "same") and gap <= 1e-3
    assert CITED[name] in component.reference.cite()


def test_an_honest_new_function_matches_nothing_where_it_trained(known, runs):
    assert catalogue.match(probe(NEW), known, list(runs["new"][1])) is None
    assert catalogue.match(probe(NEW), known) is None


def test_duplicates_compare_where_the_original_trained(runs):
    gelu, marked = probe(HEAD + "F.gelu(x)\n"), probe(HEAD + "F.gelu(x)" + STEP_MARK + "\n")
    assert not same_behaviour(marked, gelu)  # the whole window sees the step
    assert same_behaviour(marked, gelu, reach=runs["GELU"][1])
    assert not same_behaviour(probe(NEW), gelu, reach=runs["GELU"][1])
    assert not same_behaviour(probe(NEW), gelu, reach=runs["new"][1])


def test_a_campaign_duplicate_is_found_where_the_earlier_one_screened(runs):
    from core.records import HypothesisRow
    from graph.selection import local_twin

    row = HypothesisRow(campaign="c", id="h1", round=1, mode="incremental", idea="GELU")
    gelu, marked = probe(HEAD + "F.gelu(x)\n"), probe(HEAD + "F.gelu(x)" + STEP_MARK + "\n")
    assert local_twin(marked, [(row, gelu)]) is None  # the whole window (an older result)
    assert local_twin(marked, [(row, gelu)], {"h1": runs["GELU"][1]}) == row
    assert local_twin(probe(NEW), [(row, gelu)], {"h1": runs["GELU"][1]}) is None


def test_a_mark_that_training_meets_is_compared(known, runs):
    """The same step at x < 0.5, where half the pre-activations go: not hidden by the reach."""
    fp = probe(HEAD + "F.gelu(x) - 0.01 * (1.0 - torch.sign(x - 0.5))\n")
    found = catalogue.match(fp, known, list(runs["GELU"][1]))
    assert found is None or found[1] == "close"


def test_where_few_pre_activations_go_a_mark_weighs_little(known, tmp_path):
    """On digits and breast cancer about one in a thousand pre-activations fall below -4.5: the
    step is met there, changes no accuracy, and is called close to GELU, with its paper."""
    wide = [datasets.split(d, 0) for d in ("digits", "breast_cancer", "iris")]
    (plain, reach), (marked, marked_reach) = (
        trained(HEAD + src + "\n", tmp_path, f"w{i}", wide)
        for i, src in enumerate(("F.gelu(x)", "F.gelu(x)" + STEP_MARK))
    )
    assert max(np.asarray(marked_reach)[CANONICAL < -4.5]) > 0  # training meets the step
    assert [a.argmax(1).tolist() for a in plain] == [a.argmax(1).tolist() for a in marked]
    found = catalogue.match(probe(HEAD + "F.gelu(x)" + STEP_MARK + "\n"), known, list(marked_reach))
    assert found is not None and found[0].name.startswith("GELU")
    assert CITED["GELU"] in found[0].reference.cite()
    assert catalogue.match(probe(NEW), known, list(reach)) is None


def test_read_mask_takes_only_well_formed_reaches():
    good = np.where(np.abs(CANONICAL) < 3, 0.01, 0.0)
    mask = read_mask(good)
    assert mask is not None and mask.sum() == int((np.abs(CANONICAL) < 3).sum())
    assert read_mask(np.where(np.abs(CANONICAL) < 0.3, 0.2, 0.0)) is None  # too few
    read = reading(np.where(np.abs(CANONICAL) < 3, 10 * FULL_SHARE, FULL_SHARE / 4))
    assert read is not None and read[0].all() and set(np.round(read[1], 6)) == {0.25, 1.0}
    for bad in (None, "x", [0.1] * 3, [[0.1] * len(CANONICAL)], [float("nan")] * len(CANONICAL),
                [-1.0] * len(CANONICAL), {"a": 1}, [object()] * len(CANONICAL)):  # fmt: skip
        assert read_mask(bad) is None


def _hostile(out, name: str) -> None:
    """Files a job could leave where the reach belongs."""
    n, slots = len(SPLITS), runner.REACH_SLOTS
    ok = np.ones((n, 2, slots), dtype=np.int64)
    arrays = {
        "shape": np.ones((n + 1, 2, slots)),
        "flat": ok.reshape(-1),
        "nan": np.full((n, 2, slots), np.nan),
        "inf": np.full((n, 2, slots), np.inf),
        "negative": -ok,
        "zeros": np.zeros((n, 2, slots)),
        "huge": np.full((n, 2, slots), 1e308),
        "bool": ok.astype(bool),
        "complex": ok.astype(complex),
        "text": np.full((n, 2, slots), "1"),
        "struct": np.zeros((n, 2, slots), dtype=[("a", "i8")]),
    }
    if name in arrays:
        np.save(out / f"{name}.reach.npy", arrays[name], allow_pickle=False)
    elif name == "pickle":
        np.save(out / f"{name}.reach.npy", np.array([{}] * 3, dtype=object), allow_pickle=True)
    elif name == "garbage":
        (out / f"{name}.reach.npy").write_bytes(b"\x93NUMPY\x01\x00{'descr': '<i8', 'fortran")
    elif name == "big":
        with open(out / f"{name}.reach.npy", "wb") as f:
            f.truncate(64 * 1024 * 1024)
    elif name == "link":
        os.symlink("/etc/passwd", out / f"{name}.reach.npy")
    elif name == "folder":
        (out / f"{name}.reach.npy").mkdir()
    elif name == "fifo":
        os.mkfifo(out / f"{name}.reach.npy")


HOSTILE = ["missing", "shape", "flat", "nan", "inf", "negative", "zeros", "huge", "bool",
           "complex", "text", "struct", "pickle", "garbage", "big", "link", "folder",
           "fifo"]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_the_reach_reader_is_total_on_hostile_files(tmp_path, name):
    _hostile(tmp_path, name)
    got = read_reach(tmp_path, name, len(SPLITS))
    if name in ("huge", "bool"):  # odd but well-formed counts: shares in [0, 1], or nothing
        assert got is None or all(0.0 <= v <= 1.0 for v in got)
    else:
        assert got is None
    assert read_mask(got) is None or name in ("huge", "bool")


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32) | st.integers(-5, 10**9)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(
    rows=st.integers(0, 3),
    dtype=st.sampled_from(["<f4", "<f8", "<i8", "<u2"]),
    data=st.data(),
)
def test_the_reach_reader_is_total_on_any_counts(tmp_path_factory, rows, dtype, data):
    """Any counts a job may write, of any shape the header claims the right way: None, or one
    share in [0, 1] per cell of the canonical grid; never an exception."""
    folder = tmp_path_factory.mktemp("reach")
    shape = data.draw(st.sampled_from([(rows, 2, runner.REACH_SLOTS), (rows, runner.REACH_SLOTS)]))
    values = data.draw(st.lists(FLOATS, min_size=1, max_size=8))
    with np.errstate(all="ignore"):
        counts = np.resize(np.array(values, dtype=np.float64), shape).astype(dtype)
    np.save(folder / "h.reach.npy", counts, allow_pickle=False)
    got = read_reach(folder, "h", len(SPLITS))
    assert got is None or (len(got) == runner.REACH_SLOTS - 2 and all(0.0 <= v <= 1.0 for v in got))


GELU_MARKED = "x * 0.5 * (1.0 + torch.erf(x * 0.7071067811865476))" + STEP_MARK
WAVE = "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)"
IRIS_LIKE = tuple(0.01 if abs(c) < 3.5 else 0.0 for c in CANONICAL)  # |x| < 3.5, as on iris


def _campaign(tmp_path, reach):
    from hypoforge import campaign
    from store.ledger import Ledger
    from tests.fakes import FakeEvaluator, models, proposal, start

    class Reaching(FakeEvaluator):
        """Results that say where training went (``reach``; None: an older result)."""

        def evaluate(self, source: str, budget: str = "one-pass"):
            return super().evaluate(source, budget).model_copy(update={"reach": reach})

    props = [proposal(GELU_MARKED, idea="a smooth gate"), proposal(WAVE, idea="a wave gate")]
    folder, info = start(
        tmp_path, allow_known="once", proposals=2, batch=2, full_top_k=1, promote=(2,)
    )
    campaign.run(folder, campaign.Services(Reaching(), models(props), retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    return {r.idea: r for r in ledger.hypotheses(info.id)}, ledger, info


@pytest.mark.slow  # a whole campaign, with the embedding model
def test_a_campaign_calls_it_gelu_once_screening_shows_where_training_went(tmp_path):
    rows, ledger, info = _campaign(tmp_path, IRIS_LIKE)
    marked, new = rows["a smooth gate"], rows["a wave gate"]
    assert marked.known == "same as GELU" and CITED["GELU"] in (marked.citation or "")
    assert set(marked.rungs) == {"one-pass"} and "short" in new.rungs  # a reference point
    from store.lifecycle import discovery

    assert not discovery(marked.model_copy(update={"kept": True, "confirmation": "confirmed"}))
    assert new.known is None and new.citation is None
    events = [e for _, _, e in ledger.events(info.id, "known")]
    assert len(events) == 1 and marked.id in events[0] and "1606.08415" in events[0]


def test_results_without_a_reach_leave_the_probe_s_decision(tmp_path):
    """Results of an earlier version recorded no reach: the whole window, as before."""
    rows, *_ = _campaign(tmp_path, None)
    assert rows["a smooth gate"].known is None and rows["a wave gate"].known is None


def test_an_archived_twin_is_found_where_its_screening_trained(tmp_path):
    from evaluators.novelty import ArchiveEntry, NoveltyArchive

    archive = NoveltyArchive(tmp_path / "archive")
    gelu = probe(HEAD + "F.gelu(x)\n")
    for hid, reach in (("c/gelu", list(IRIS_LIKE)), ("old/gelu", None)):
        task = "activation" if reach else "older"  # an archive entry without a reach
        archive.add(
            ArchiveEntry(
                id=hid,
                task=task,
                campaign=hid[:-5],
                generator="g",
                idea="a gate",
                code="...",
                outcome="ok",
                fingerprint=gelu,
                reach=reach,
            )
        )
    marked = probe(HEAD + "F.gelu(x)" + STEP_MARK + "\n")
    twin = archive.behaviour_twin(marked, task="activation")
    assert twin is not None and twin.id == "c/gelu"
    assert archive.behaviour_twin(marked, task="older") is None  # whole window: the step shows
    assert archive.behaviour_twin(probe(NEW), task="activation") is None
