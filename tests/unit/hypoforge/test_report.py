import csv
import json

import numpy as np

from evaluators.activation.harness import draw_probe
from hypoforge import campaign
from hypoforge.report import write_report
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start, write_probe


def test_report_has_plots_leaders_and_the_ledger(tmp_path):
    folder, info = start(tmp_path, proposals=3, batch=3, full_top_k=1)
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)", idea=f"gate {k}") for k in (1, 2, 3)]
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    path = write_report(folder)
    text = path.read_text()
    assert text.startswith(f"# Campaign {info.id} (activation)")
    # the catalogue's published components (one job), 3 probes, 3 screens, 2 short, 1 full
    assert "3 proposals, 3 scored, 10 sandbox runs" in text
    assert "| r0-" in text and "| full |" in text
    for png in ("progress.png", "heatmap.png"):
        assert (path.parent / png).read_bytes()[:4] == b"\x89PNG"
    assert not (path.parent / "curves.png").exists()  # the fake evaluator left no probe arrays
    with (path.parent / "ledger.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["id"] for r in rows] == ["r0-0", "r0-1", "r0-2"]
    assert {r["idea"] for r in rows} == {"gate 1", "gate 2", "gate 3"}
    assert "## Findings: round-0" in text


def test_curves_come_from_the_sandbox_probe_arrays(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, full_top_k=0)
    campaign.run(
        folder,
        campaign.Services(FakeEvaluator(), models([proposal("x * torch.sigmoid(x)")]), retries=0),
    )
    artifacts = tmp_path / "attempt" / "out"
    artifacts.mkdir(parents=True)
    spec = draw_probe(np.random.default_rng(3))
    (tmp_path / "attempt" / "in").mkdir()
    (tmp_path / "attempt" / "in" / "job.json").write_text(json.dumps({"checks": {"probe": spec}}))
    write_probe(artifacts, "candidate", lambda p: p * 0.5 * (1 + np.tanh(p / 2)), spec)
    ledger = Ledger(folder / "ledger.sqlite")
    key, _, rep = ledger.results(info.id)[0]
    ledger.db.execute(
        "UPDATE results SET report = ? WHERE key = ?",
        (rep.model_copy(update={"artifacts": str(artifacts)}).model_dump_json(), key),
    )
    path = write_report(folder)
    assert (path.parent / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "![curves](curves.png)" in path.read_text()


def test_report_explains_what_was_not_run(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=4, screen_top_k=2, full_top_k=0)
    props = [
        proposal("x * torch.sigmoid(x)", "gate"),
        proposal("x / (1 + torch.exp(-x))", "logistic ratio"),  # a behavioural twin
        proposal("torch.tanh(x)", "tanh"),
        proposal("x * torch.tanh(x)", "tanh gate"),
    ]
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    text = write_report(folder).read_text()
    assert "## What was not run, and why" in text
    assert f"- r0-1 (logistic ratio): behaves like {info.id}/r0-0, result reused" in text
    assert "- r0-3 (tanh gate): pruned: no reward model yet" in text
    with (folder / "report" / "ledger.tsv").open() as f:
        rows = {r["id"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert rows["r0-1"]["duplicate_of"] == f"{info.id}/r0-0"
    assert rows["r0-3"]["stage"] == "pruned"


def test_report_says_how_the_campaign_ran_from_its_records(tmp_path):
    folder, _ = start(tmp_path, proposals=2, batch=2, full_top_k=0)
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)", idea=f"gate {k}") for k in (1, 2)]
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    text = write_report(folder).read_text()
    how = text.split("## How it ran\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert how == [
        "- proposed by: a language model (name not recorded)",  # the fakes have no names
        "- reviewed by: a critic model (name not recorded): 2, rejected 0",
        "- behaviour probes: 2 hypotheses",
        "- rungs run: one-pass (2)",
        "- metric: test accuracy",
    ]
