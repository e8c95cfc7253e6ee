"""Fidelity of screening: the agreement maths on crafted win rates, storage, the archive sample
(a real Chroma store) and the command with a fake sandbox."""

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from core.errors import ConfigError, InfraError
from core.records import Outcome
from evaluators import fidelity
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from evaluators.novelty import ArchiveEntry, NoveltyArchive
from hypoforge import cli
from hypoforge.cli import common
from hypoforge.cli import reward as cli_reward
from sandbox.base import Job, RunResult
from tests.fakes import (
    SMALL_SPLITS,
    SOURCES,
    UP,
    FakeSandbox,
    Scripted,
    half_right,
    on_splits,
    perfect,
    scripted,
    write_probe,
)

runner = CliRunner()


@pytest.mark.slow
def test_perfect_and_reversed_ranks_with_intervals_and_progress():
    ev = scripted(
        selection__one_pass=UP,
        confirmation__one_pass=[0.2, 0.3, 0.35, 0.6, 0.9],  # same order, other values
        selection__short=[0.0, 0.05, 0.5, 0.55, 0.99],
        selection__full=UP[::-1],
    )
    steps: list[str] = []
    result = fidelity.measure(ev, SOURCES, notify=steps.append)
    assert list(result["agreement"]) == [
        "one-pass -> short",
        "short -> full",
        "one-pass -> full",
        "seed sets",
    ]
    a = result["agreement"]
    for key in ("one-pass -> short", "seed sets"):
        assert a[key] == {
            "n": 5,
            "kendall": pytest.approx(1.0),
            "kendall_ci": [pytest.approx(1.0), pytest.approx(1.0)],
            "spearman": pytest.approx(1.0),
            "spearman_ci": [pytest.approx(1.0), pytest.approx(1.0)],
        }
    for key in ("short -> full", "one-pass -> full"):
        assert a[key]["kendall"] == pytest.approx(-1.0)
        assert a[key]["spearman"] == pytest.approx(-1.0)
        assert a[key]["kendall_ci"] == [pytest.approx(-1.0), pytest.approx(-1.0)]
    assert result["task"] == "activation" and result["harness_version"] == "abc123"
    assert result["splits_id"] == {"selection": "sel-id", "confirmation": "con-id"}
    assert (result["n"], result["budgets"], result["dropped"]) == (5, list(fidelity.BUDGETS), {})
    assert result["win_rates"]["h4"] == {
        "selection": {"one-pass": 0.5, "short": 0.99, "full": 0.1},
        "confirmation": {"one-pass": 0.9},
    }
    # Cheapest first: one-pass on both split sets, then the longer budgets.
    order = [(s, b) for s, b, _ in ev.calls[::5]]
    assert order == [
        ("selection", "one-pass"),
        ("confirmation", "one-pass"),
        ("selection", "short"),
        ("selection", "full"),
    ]
    assert steps[0] == "1/20 h0 at one-pass"
    assert steps[5] == "6/20 h0 at one-pass on the confirmation splits"
    assert steps[-1] == "20/20 h4 at full"
    json.dumps(result, allow_nan=False)  # JSON-able as it is


@pytest.mark.slow
def test_known_tau_and_rho_of_one_swap():
    # One swapped pair of five: tau = (9 - 1) / 10, rho = 1 - 6 * 2 / (5 * 24).
    ev = scripted(
        selection__one_pass=UP,
        confirmation__one_pass=[0.1, 0.3, 0.2, 0.4, 0.5],
        selection__short=[0.1, 0.3, 0.2, 0.4, 0.5],
    )
    result = fidelity.measure(ev, SOURCES, budgets=("one-pass", "short"))
    assert list(result["agreement"]) == ["one-pass -> short", "seed sets"]
    for a in result["agreement"].values():
        assert a["kendall"] == pytest.approx(0.8)
        assert a["spearman"] == pytest.approx(0.9)
        lo, hi = a["kendall_ci"]
        assert -1 <= lo <= 0.8 <= hi <= 1
        lo, hi = a["spearman_ci"]
        assert -1 <= lo <= 0.9 <= hi <= 1


def test_win_rates_without_spread_have_no_ranking():
    ev = scripted(selection__one_pass=UP, confirmation__one_pass=[0.5] * 5)
    result = fidelity.measure(ev, SOURCES, budgets=("one-pass",))
    seeds = result["agreement"]["seed sets"]
    assert (seeds["kendall"], seeds["kendall_ci"]) == (None, [None, None])
    assert "Kendall n/a (no spread in the win rates)" in fidelity.summary_lines(result)[0]
    json.dumps(result, allow_nan=False)


@pytest.mark.slow
def test_a_failed_hypothesis_is_dropped_and_not_run_again():
    ev = scripted(
        selection__one_pass=UP,
        confirmation__one_pass=UP,
        selection__short=[0.1, None, 0.3, 0.4, 0.5],
        selection__full=UP,
    )
    result = fidelity.measure(ev, SOURCES)
    assert result["dropped"] == {"h1": "timeout at short: killed at 120 s"}
    assert result["n"] == 4 and sorted(result["win_rates"]) == ["h0", "h2", "h3", "h4"]
    assert ("selection", "full", "h1") not in ev.calls
    assert all(a["n"] == 4 for a in result["agreement"].values())


def test_too_few_hypotheses_is_a_config_error_before_the_long_runs():
    ev = scripted(selection__one_pass=UP)
    with pytest.raises(ConfigError, match="at least 3 hypotheses to rank; got 2"):
        fidelity.measure(ev, {"h0": "h0", "h1": "h1"})
    assert ev.calls == []
    ev = scripted(selection__one_pass=[0.1, 0.2, None, None, None], selection__short=UP)
    with pytest.raises(ConfigError) as caught:
        fidelity.measure(ev, SOURCES)
    assert str(caught.value) == "only 2 of 5 hypotheses were OK at one-pass; fidelity needs 3"
    assert {b for _, b, _ in ev.calls} == {"one-pass"}


def test_an_infra_failure_raises_instead_of_dropping():
    ev = Scripted({}, infra=True)
    with pytest.raises(InfraError, match="h0 at one-pass"):
        fidelity.measure(ev, SOURCES)


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        (("one-pass", "huge"), "unknown budget 'huge'"),
        (("short", "short"), "a budget is named twice"),
        ((), "at least one budget"),
    ],
)
def test_bad_budgets(budgets, message):
    with pytest.raises(ConfigError, match=message):
        fidelity.check_budgets(budgets)


@pytest.fixture(scope="module")
def crafted():
    """One measurement of crafted win rates (the bootstrap takes seconds: computed once)."""
    return fidelity.measure(
        scripted(
            selection__one_pass=UP,
            confirmation__one_pass=[0.1, 0.3, 0.2, 0.4, 0.5],
            selection__short=[0.1, 0.3, 0.2, 0.4, 0.5],
        ),
        SOURCES,
        budgets=("one-pass", "short"),
    )


@pytest.mark.slow
def test_save_and_load_round_trip_per_harness_version(tmp_path, crafted):
    result = crafted
    path = fidelity.save(tmp_path, result)
    assert path == tmp_path / "fidelity" / "activation-abc123.json"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert fidelity.load(tmp_path, "activation", "abc123") == result
    assert fidelity.load(tmp_path, "activation", "other1") is None
    assert fidelity.load(tmp_path, "grokking", "abc123") is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "[1, 2]",
        lambda text: b"\xff\xfe{",
        lambda text: text.replace('"spearman_ci"', '"spearman_cj"'),
        lambda text: text.replace('"n": 5', '"n": "five"', 1),
    ],
)
def test_a_damaged_file_loads_as_none(tmp_path, damage, crafted):
    path = fidelity.save(tmp_path, crafted)
    damaged = damage(path.read_text())
    if isinstance(damaged, bytes):
        path.write_bytes(damaged)  # not UTF-8
    else:
        path.write_text(damaged)
    assert fidelity.load(tmp_path, "activation", "abc123") is None


@pytest.mark.slow
def test_summary_lines_and_table_show_the_figures(crafted):
    result = crafted
    lines = fidelity.summary_lines(result)
    a = result["agreement"]["one-pass -> short"]
    klo, khi = a["kendall_ci"]
    slo, shi = a["spearman_ci"]
    assert lines[0] == (
        f"- one-pass -> short: Kendall 0.80 ({klo:.2f} to {khi:.2f}), "
        f"Spearman 0.90 ({slo:.2f} to {shi:.2f}); n = 5, harness abc123"
    )
    assert lines[1].startswith("- seed sets (one-pass: selection vs confirmation): Kendall 0.80")
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(fidelity.render(result))
    text = console.export_text()
    assert "n = 5, harness abc123" in text
    assert f"0.80 ({klo:.2f} to {khi:.2f})" in text and f"0.90 ({slo:.2f} to {shi:.2f})" in text


# -- the archive ---------------------------------------------------------------------------------
def code(k: int) -> str:
    return f"import torch\n\n\ndef activation(x):  # wins on {k} splits\n    return torch.relu(x)\n"


def fill(path, n: int, task="activation", campaign="c1"):
    archive = NoveltyArchive(path)
    for k in range(n):
        idea = f"grade {k}\nsecond line of the idea"  # an idea of two lines: code is still whole
        archive.add(
            ArchiveEntry(
                id=f"{campaign}/h{k}",
                task=task,
                campaign=campaign,
                generator="test",
                idea=idea,
                code=code(k),
                outcome="ok",
                win_rate=k / 10,
            )
        )
    return archive


@pytest.mark.slow
def test_sample_archive_draws_measured_hypotheses_with_a_fixed_seed(tmp_path):
    archive = fill(tmp_path / "chroma", 6)
    for hid, outcome, code_ in (("c1/crash", "hyp_error", code(9)), ("c1/empty", "ok", " \n")):
        archive.add(
            ArchiveEntry(
                id=hid,
                task="activation",
                campaign="c1",
                generator="test",
                idea="x",
                code=code_,
                outcome=outcome,
            )
        )
    fill(tmp_path / "chroma", 1, task="grokking", campaign="c2")
    sample = fidelity.sample_archive(tmp_path / "chroma", "activation", 3, seed=7)
    assert len(sample) == 3 and list(sample) == sorted(sample)
    assert sample == fidelity.sample_archive(tmp_path / "chroma", "activation", 3, seed=7)
    assert all(sample[h] == code(int(h.removeprefix("c1/h"))) for h in sample)
    everything = fidelity.sample_archive(tmp_path / "chroma", "activation", 50, seed=0)
    assert sorted(everything) == [f"c1/h{k}" for k in range(6)]
    assert fidelity.sample_archive(tmp_path / "chroma", "grokking", 5, seed=0) == {"c2/h0": code(0)}
    with pytest.raises(ConfigError, match="no archive at"):
        fidelity.sample_archive(tmp_path / "nothing", "activation", 3, seed=0)
    assert not (tmp_path / "nothing").exists()


# -- the command ---------------------------------------------------------------------------------
CONFIRM = [datasets.split("iris", 3), datasets.split("wine", 3), datasets.split("moons", 4)]


class Graded(FakeSandbox):
    """A candidate whose code says it "wins on k splits" gets perfect logits on the job's first
    k splits and the baselines' half-right ones elsewhere: the win rate rises with k."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.by_name = {s.name: s for s in (*SMALL_SPLITS, *CONFIRM)}

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        spec = json.loads((in_dir / "job.json").read_text())
        for name in spec["candidates"]:
            found = re.search(
                r"wins on (\d+) splits", (in_dir / "candidates" / f"{name}.py").read_text()
            )
            wins = int(found[1]) if found else 0
            write_probe(
                job.out_dir, name, self.probe_fn if found else np.tanh, spec["checks"]["probe"]
            )
            for i, split_name in enumerate(spec["splits"]):
                split = self.by_name[split_name]
                logits = perfect(split) if i < wins else half_right(split)
                np.save(job.out_dir / f"{name}.{split_name}.npy", logits)
        return RunResult(
            outcome=self.outcome, reason="fake", out_dir=job.out_dir, image=self.image_ref()
        )


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(common, "make_evaluator", on_splits(SMALL_SPLITS, CONFIRM))
    return tmp_path / "home"


def graded(monkeypatch, **kwargs) -> Graded:
    sandbox = Graded(**kwargs)
    monkeypatch.setattr(common, "make_sandbox", lambda settings: sandbox)
    return sandbox


@pytest.mark.slow
def test_fidelity_command_prints_stores_and_reward_eval_quotes_it(monkeypatch, home):
    fill(home / "archive", 4)
    sandbox = graded(monkeypatch)
    res = runner.invoke(cli.app, ["fidelity", "activation"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    version = ActivationEvaluator.harness_version()
    assert "4 measured hypotheses of activation from" in res.output
    assert f"n = 4, harness {version}" in res.output
    assert "1.00 (1.00 to 1.00)" in res.output  # win rates rise with k on every measurement
    stored = fidelity.load(home, "activation", version)
    assert stored is not None and stored["n"] == 4
    assert f"stored: {fidelity.result_path(home, 'activation', version)}" in res.output
    assert len([j for j in sandbox.jobs if j.key.startswith("a")]) == 4 * 4
    assert stored["win_rates"]["c1/h3"]["selection"] == {"one-pass": 1.0, "short": 1.0, "full": 1.0}

    # ``reward eval`` quotes the stored figure of the current harness version after its table.
    fake_metrics = {"n": 10, "kendall_tau": 0.5, "spearman": 0.6, "pearson": 0.7}
    fake_metrics["discovery_auc_vs_random"] = 1.2
    monkeypatch.setattr(
        cli_reward,
        "_examples",
        lambda *a: ("archive x", [SimpleNamespace(target=1, generator="g")]),
    )
    monkeypatch.setattr(
        cli_reward, "_measure", lambda examples, kinds: ({"gp": {"by time": fake_metrics}}, {})
    )
    res = runner.invoke(cli.app, ["reward", "eval", "--archive"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert res.output.index("Kendall tau") < res.output.index("fidelity of screening")
    for line in fidelity.summary_lines(stored):
        assert line in res.output
    fidelity.result_path(home, "activation", version).unlink()
    res = runner.invoke(cli.app, ["reward", "eval", "--archive"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert (
        "no fidelity measured for this harness version: run `hypoforge fidelity activation`"
        in res.output
    )


@pytest.mark.slow
def test_fidelity_command_json_and_exit_codes(monkeypatch, home):
    fill(home / "archive", 4)
    graded(monkeypatch)
    res = runner.invoke(cli.app, ["fidelity", "activation", "--budgets", "one-pass", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert list(result["agreement"]) == ["seed sets"] and result["n"] == 4

    res = runner.invoke(cli.app, ["fidelity", "activation", "--budgets", "one-pass,huge"])
    assert res.exit_code == 2 and "unknown budget 'huge'" in res.output
    res = runner.invoke(cli.app, ["fidelity", "activation", "--sample", "2"])
    assert res.exit_code == 2
    assert "hypoforge: error: fidelity needs at least 3 hypotheses to rank; got 2" in res.output
    res = runner.invoke(cli.app, ["fidelity", "nosuchtask"])
    assert res.exit_code == 2 and "unknown task 'nosuchtask'" in res.output
    graded(monkeypatch, outcome=Outcome.INFRA_ERROR)
    res = runner.invoke(cli.app, ["fidelity", "activation", "--budgets", "one-pass"])
    assert res.exit_code == 3 and "hypoforge: infrastructure error:" in res.output
