"""The campaign report's task hooks: each task's figures (and no other task's), the generic
report for a task without hooks, and the rule that leaves out a commentary of invented numbers.

Every campaign here is a ledger filled by hand with EvalReports whose ``artifacts`` folders hold
arrays written by the test, as the sandbox would have written them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents import analyst
from core.records import DatasetScore, EvalReport, HypothesisRow, Outcome
from core.settings import CampaignSettings
from evaluators import registry
from evaluators.activation import report as activation_report
from evaluators.activation.harness import ActivationEvaluator, draw_probe
from evaluators.contract import hooks_for, metric_of
from evaluators.grokking import data
from evaluators.grokking import report as grokking_report
from evaluators.grokking.harness import CHECKPOINTS, GrokkingEvaluator, curve
from evaluators.kit.secrets import PUBLIC, installation_secret
from hypoforge import campaign
from hypoforge.report import commentary_problem, write_report
from store import lifecycle
from store.ledger import Ledger
from tests.fakes import write_probe

ROOT = Path(__file__).resolve().parents[3]
TASK_FIGURES = {"activation": "curves.png", "grokking": "grokking.png"}
BASELINES = {
    "activation": ("relu", "gelu"),
    "preprocess": ("identity", "standardise"),
    "regularizer": ("none", "l2"),
    "grokking": ("template",),
}


def result(task: str, win_rate: float, artifacts: Path | None = None, **extra) -> EvalReport:
    names = BASELINES.get(task, ("zero",))
    per_dataset = {
        d: DatasetScore(
            candidate=0.8 + k / 100, baselines={b: 0.7 for b in names}, win_rate=win_rate
        )
        for k, d in enumerate(("moons", "iris"))
    }
    fields = dict(
        task=task,
        budget="one-pass",
        status=Outcome.OK,
        win_rate=win_rate,
        win_rate_ci=(max(0.0, win_rate - 0.1), min(1.0, win_rate + 0.1)),
        per_dataset=per_dataset,
        harness_version="h1",
        code_sha="c",
        wall_seconds=1.0,
        artifacts=None if artifacts is None else str(artifacts),
    )
    return EvalReport(**{**fields, **extra})


def fill(tmp_path: Path, task: str, reports: list[EvalReport], findings: str | None = None):
    """A campaign folder whose ledger holds one scored hypothesis per report."""
    folder = tmp_path / "camp"
    info = campaign.create(folder, task, CampaignSettings())
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        for k, rep in enumerate(reports):
            hid = f"r0-{k}"
            row = HypothesisRow(
                campaign=info.id,
                id=hid,
                round=0,
                mode="novel",
                idea=f"idea {k}",
                stage="evaluated",
                outcome="ok",
                screen_win_rate=rep.win_rate,
            )
            ledger.save(row)
            ledger.put_result(f"key-{k}", info.id, hid, rep)
    finally:
        ledger.close()
    if findings is not None:
        (folder / "findings").mkdir()
        (folder / "findings" / "round-0.md").write_text(findings)
    return folder


def figures(path: Path) -> set[str]:
    return {p.name for p in path.parent.glob("*.png")}


def assert_only_its_figure(path: Path, task: str) -> None:
    text = path.read_text()
    mine = TASK_FIGURES.get(task)
    for other, png in TASK_FIGURES.items():
        if other == task:
            assert png in figures(path) and f"]({png})" in text
        else:
            assert png not in figures(path) and png not in text
    assert "heatmap.png" in figures(path) and "progress.png" in figures(path)
    if mine != "curves.png":
        assert "relu" not in text and "gelu" not in text


# -- activation ------------------------------------------------------------------------------
def probe_attempt(root: Path, fn) -> Path:
    """An attempt folder as the activation runner leaves it: job.json with the probe inputs the
    host drew, the probe arrays of ``candidate`` in out/."""
    spec = draw_probe(np.random.default_rng(3))
    (root / "in").mkdir(parents=True)
    (root / "in" / "job.json").write_text(json.dumps({"checks": {"probe": spec}}))
    (root / "out").mkdir()
    write_probe(root / "out", "candidate", fn, spec)
    return root / "out"


def test_activation_report_has_the_curves_and_no_other_tasks_figure(tmp_path):
    out = probe_attempt(tmp_path / "attempt", lambda p: p * 0.5 * (1 + np.tanh(p / 2)))
    folder = fill(tmp_path, "activation", [result("activation", 0.7, out)])
    path = write_report(folder)
    assert (path.parent / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "![curves](curves.png)" in path.read_text()
    assert_only_its_figure(path, "activation")


def test_activation_baseline_formulas_match_the_baseline_files():
    torch = pytest.importorskip("torch")
    x = np.linspace(-6, 6, 241)
    formulas = activation_report.baseline_curves(x)
    assert list(formulas) == list(ActivationEvaluator.files.baselines)
    for name, y in formulas.items():
        namespace: dict = {}
        exec(ActivationEvaluator.files.baseline_source(name), namespace)
        want = namespace["activation"](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(y, want, atol=1e-6, err_msg=name)


# -- preprocess, regularizer: no hook, the generic report ----------------------------------------
@pytest.mark.parametrize("task", ["preprocess", "regularizer"])
def test_tasks_without_hooks_get_the_generic_report(tmp_path, task):
    folder = fill(tmp_path, task, [result(task, 0.6), result(task, 0.4)])
    path = write_report(folder, home=tmp_path / "home")
    assert figures(path) == {"progress.png", "heatmap.png"}
    assert_only_its_figure(path, task)
    assert "| r0-0 | idea 0 | one-pass | 0.600 |" in path.read_text()


# -- grokking ----------------------------------------------------------------------------------
def learns_at(answers: np.ndarray, p: int, k: int) -> np.ndarray:
    """Predictions [CHECKPOINTS + 1, n_test]: wrong before checkpoint ``k``, right from it on."""
    wrong = (answers + 1) % p
    return np.stack([answers if i >= k else wrong for i in range(CHECKPOINTS + 1)]).astype(np.int64)


def grokking_attempt(root: Path, name: str, secret, k: int) -> tuple[Path, dict[str, float]]:
    """What the template runner writes for ``name`` on the selection splits, and its cells."""
    root.mkdir(parents=True)
    cells = {}
    for s in data.all_splits(secret=secret):
        guesses = learns_at(s.y_test, s.n_classes, k)
        np.save(root / f"{name}.{s.name}.labels.npy", guesses)
        cells[s.name] = float(curve(guesses, s.y_test).mean())
    return root, cells


def grokking_campaign(tmp_path, home: Path, secret, **extra):
    out, cells = grokking_attempt(tmp_path / "attempt" / "out", "candidate", secret, 10)
    rep = result("grokking", 0.8, out, cells=cells, data_secret=secret.id, **extra)
    return fill(tmp_path, "grokking", [rep]), cells


def test_grokking_report_plots_held_out_accuracy_over_checkpoints(tmp_path):
    home = tmp_path / "home"
    secret = installation_secret(home)
    folder, cells = grokking_campaign(tmp_path, home, secret)
    path = write_report(folder, home=home)
    text = path.read_text()
    assert (path.parent / "grokking.png").read_bytes()[:4] == b"\x89PNG"
    assert "against the template's area" in text  # its curve was not kept
    assert_only_its_figure(path, "grokking")
    # The curve is computed on the host from the saved predictions and the rebuilt answers.
    found = grokking_report.leader_curve(tmp_path / "attempt" / "out", "candidate", cells, secret)
    assert found is not None and found.shape == (CHECKPOINTS + 1,)
    assert np.all(found[:10] == 0) and np.all(found[10:] == 1)
    assert float(found.mean()) == pytest.approx(np.mean(list(cells.values())))


def test_grokking_template_curve_comes_from_a_kept_baseline_attempt(tmp_path):
    home = tmp_path / "home"
    secret = installation_secret(home)
    folder, _ = grokking_campaign(tmp_path, home, secret)
    kept = home / "attempts" / "grokking" / "bh1-one-pass-0" / "out"
    grokking_attempt(kept, "template", secret, 25)
    text = write_report(folder, home=home).read_text()
    assert "against the template's curve" in text


def test_grokking_needs_the_secret_the_result_was_scored_with(tmp_path):
    home = tmp_path / "home"
    installation_secret(home)
    folder, _ = grokking_campaign(tmp_path, home, PUBLIC)  # another installation's data
    assert "grokking.png" not in figures(write_report(folder, home=home))
    assert "grokking.png" not in figures(write_report(folder))  # no home: no answers at all
    fresh = tmp_path / "fresh"  # a home without a secret: none is made up for the report
    assert "grokking.png" not in figures(write_report(folder, home=fresh))
    assert not (fresh / "secret.key").exists()


def test_grokking_ignores_malformed_predictions(tmp_path):
    home = tmp_path / "home"
    secret = installation_secret(home)
    folder, _ = grokking_campaign(tmp_path, home, secret)
    for f in (tmp_path / "attempt" / "out").glob("*.npy"):
        np.save(f, np.zeros((3, 3), dtype=np.float32))
    path = write_report(folder, home=home)
    assert "grokking.png" not in figures(path) and "heatmap.png" in figures(path)


# -- a plugin without hooks ----------------------------------------------------------------------
def test_curvefit_plugin_gets_the_generic_report(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(ROOT / "examples" / "tasks"))
    plugin = registry.get("curvefit")
    assert hooks_for(plugin) is None
    rep = result("curvefit", 0.9, per_dataset={})
    path = write_report(fill(tmp_path, "curvefit", [rep]))
    text = path.read_text()
    assert text.startswith("# Campaign") and "(curvefit)" in text
    assert "| r0-0 | idea 0 | one-pass | 0.900 |" in text
    assert figures(path) == {"progress.png"}


def test_hooks_and_metrics_per_task():
    found = registry.tasks(env={})
    hooks = {name: hooks_for(p) for name, p in found.items()}
    assert isinstance(hooks["activation"], activation_report.ActivationReport)
    assert isinstance(hooks["grokking"], grokking_report.GrokkingReport)
    assert hooks["preprocess"] is None and hooks["regularizer"] is None
    assert metric_of(GrokkingEvaluator) == "area under the held-out accuracy curve"
    assert metric_of(ActivationEvaluator) == "test accuracy" == metric_of(object)


def test_report_module_imports_no_task():
    """The report reaches a task's figures through its hooks only: importing it loads the plugin
    contract, never a task's package."""
    code = (
        "import sys, hypoforge.report; print(sorted(m for m in sys.modules if 'evaluators' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout)
    tasks = [m for m in loaded if m.count(".") >= 1 and m.split(".")[1] in registry.tasks(env={})]
    assert "evaluators.contract" in loaded and tasks == []


# -- the analyst's commentary ----------------------------------------------------------------------
TABLE = analyst.table(
    [
        analyst.Finding(
            hypothesis="r0-0", idea="gate", win_rate=0.97, ci=(0.9, 0.99), keep=True, budget="full"
        )
    ]
)


def findings_file(commentary: str) -> str:
    """A findings file as ``graph.nodes.analyze`` writes it."""
    text = ["# Round 0", "", TABLE, "", lifecycle.KEEP_RULE, ""]
    text += [
        "Analyst's commentary (model-written; the table above is measured):",
        "",
        commentary,
        "",
    ]
    flagged = analyst.unsupported(commentary, TABLE)
    if flagged:
        text.append(f"Numbers or ids in the commentary but not in the table: {flagged}")
    return "\n".join(text) + "\n"


INVENTED = "r0-7 won with 0.81 and 0.66,\n\nbeating r0-0."  # 0.81, 0.66, r0-7 of 4: not in it
MOSTLY_MEASURED = "r0-0 did best at 0.97; 0.55 is a guess."  # only 0.55 of 3 is not


def test_commentary_mostly_invented_is_left_out(tmp_path):
    assert commentary_problem(findings_file(INVENTED)) == (
        "The analyst's commentary is left out: most of its numbers are not in the table (3 of 4)"
    )
    folder = fill(tmp_path, "preprocess", [result("preprocess", 0.6)], findings_file(INVENTED))
    text = write_report(folder).read_text()
    section = text[text.index("## Findings: round-0") :]
    assert TABLE in section and lifecycle.KEEP_RULE in section
    assert "(3 of 4)" in section
    assert "0.81" not in section and "r0-7" not in section and "beating" not in section
    assert "Analyst's commentary (model-written" not in section
    assert "Numbers or ids in the commentary" not in section


def test_commentary_mostly_measured_is_shown(tmp_path):
    assert commentary_problem(findings_file(MOSTLY_MEASURED)) is None
    assert commentary_problem(findings_file("r0-0 at 0.97 and 0.55.")) is None  # 1 of 3
    assert commentary_problem(findings_file("0.97 then 0.55")) is None  # half is not most
    assert commentary_problem(findings_file("No numbers at all.")) is None
    assert commentary_problem("# Round 0\n\n" + TABLE + "\n") is None  # no commentary
    findings = findings_file(MOSTLY_MEASURED)
    folder = fill(tmp_path, "preprocess", [result("preprocess", 0.6)], findings)
    text = write_report(folder).read_text()
    assert MOSTLY_MEASURED in text
    assert "Numbers or ids in the commentary but not in the table: ['0.55']" in text
    assert "is left out" not in text


def test_a_bad_report_entry_in_task_toml_is_a_config_error():
    from dataclasses import replace

    from core.errors import ConfigError
    from evaluators import registry

    plugin = registry.get("activation")
    for ref in ("nowhere:Hooks", "report:Missing", "harness:ActivationEvaluator"):
        with pytest.raises(ConfigError, match="report"):
            hooks_for(replace(plugin, spec=plugin.spec.model_copy(update={"report": ref})))


def test_the_ledger_tsv_writes_lists_and_dicts_as_json(tmp_path):
    from core.records import HypothesisRow
    from hypoforge.report import write_tsv

    row = HypothesisRow(
        campaign="c", id="r0-0", round=0, mode="novel", idea="i", flags=["big"], rungs={"full": 0.5}
    )
    import csv
    import json

    write_tsv(tmp_path / "l.tsv", [row])
    with (tmp_path / "l.tsv").open() as f:
        (back,) = csv.DictReader(f, delimiter="\t")
    assert json.loads(back["flags"]) == ["big"] and json.loads(back["rungs"]) == {"full": 0.5}
