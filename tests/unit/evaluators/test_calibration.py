"""Calibration: control panels, pair verdicts, the stored results, the CLI, and the split sets of
every sandboxed task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core.errors import ConfigError, InfraError
from core.records import EvalReport, Outcome
from evaluators import calibration, registry
from evaluators.activation.harness import ActivationEvaluator
from evaluators.calibration import CANNOT, REVERSED, SEPARATED, Control
from evaluators.grokking import data as grokking_data
from evaluators.grokking.harness import GrokkingEvaluator
from evaluators.kit import datasets
from evaluators.kit.secrets import PUBLIC, installation_secret
from evaluators.preprocess import data as preprocess_data
from evaluators.preprocess.harness import PreprocessEvaluator
from evaluators.regularizer import data as regularizer_data
from evaluators.regularizer.harness import RegularizerEvaluator

EVALUATORS = {
    "activation": ActivationEvaluator,
    "preprocess": PreprocessEvaluator,
    "regularizer": RegularizerEvaluator,
    "grokking": GrokkingEvaluator,
}


# -- the panels ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", sorted(EVALUATORS))
def test_every_task_has_a_panel_with_both_ranks(task):
    controls = calibration.panel(EVALUATORS[task].folder)
    assert {c.rank for c in controls} == {"worse", "better"}
    assert all(c.why and c.reference and c.source.strip() for c in controls)
    assert len(calibration.pairs(controls)) >= 2


@pytest.mark.parametrize(
    ("task", "name"),
    [(t, c.name) for t, ev in sorted(EVALUATORS.items()) for c in calibration.panel(ev.folder)],
)
def test_every_control_passes_its_static_check(task, name):
    ev = EVALUATORS[task]
    control = next(c for c in calibration.panel(ev.folder) if c.name == name)
    assert ev.static_problem(control.source) is None


def test_the_panel_is_found_through_the_registry():
    plugin = registry.get("activation")
    assert [c.name for c in calibration.panel(plugin.folder)][:2] == ["sigmoid", "near_identity"]


def _panel(tmp_path: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "task"
    (folder / "controls").mkdir(parents=True)
    (folder / "controls" / "controls.toml").write_text(toml)
    for name, text in (files or {"a.py": "x", "b.py": "y"}).items():
        (folder / "controls" / name).write_text(text)
    return folder


def _entry(name: str, file: str, rank: str, extra: str = "") -> str:
    return (
        f'[[control]]\nname = "{name}"\nfile = "{file}"\nrank = "{rank}"\n'
        f'why = "w"\nreference = "r"\n{extra}\n'
    )


GOOD = _entry("a", "a.py", "worse") + _entry("b", "b.py", "better")


def test_a_good_panel_parses(tmp_path):
    controls = calibration.panel(_panel(tmp_path, GOOD))
    assert controls == [
        Control("a", "a.py", "worse", "w", "r", "x"),
        Control("b", "b.py", "better", "w", "r", "y"),
    ]


@pytest.mark.parametrize(
    ("toml", "files", "message"),
    [
        ("[[control]\n", None, "not valid TOML"),
        ("title = 'x'\n" + GOOD, None, "unknown keys: title"),
        ("", None, "needs [[control]] tables"),
        ("control = 3\n", None, "needs [[control]] tables"),
        (_entry("a", "a.py", "worse", 'colour = "red"') + GOOD, None, "unknown keys: colour"),
        ('[[control]]\nname = "a"\nfile = "a.py"\nrank = "worse"\n', None, "why, reference"),
        ('[[control]]\nname = 3\nfile = "a.py"\nrank = "worse"\nwhy = "w"\nreference = "r"\n',
         None, "missing or not text: name"),
        (_entry("a", "a.py", "middle") + GOOD, None, "rank must be one of worse, better"),
        (_entry("c", "c.py", "worse") + GOOD, None, "missing file c.py"),
        (_entry("c", "../a.py", "worse") + GOOD, None, "must name a file beside"),
        (_entry("a", "a.py", "worse") + GOOD, None, "duplicate control names: a"),
        (_entry("a", "a.py", "worse"), None, "at least one better control"),
        (_entry("b", "b.py", "better"), None, "at least one worse control"),
        (GOOD, {"a.py": "x", "b.py": b"\xff\xfe"}, "cannot read b.py"),
    ],
)  # fmt: skip
def test_a_bad_panel_is_one_config_error_line(tmp_path, toml, files, message):
    folder = _panel(tmp_path, toml)
    for name, content in (files or {}).items():
        path = folder / "controls" / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(ConfigError) as info:
        calibration.panel(folder)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_no_panel_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no control panel"):
        calibration.panel(tmp_path)


# -- the verdicts ----------------------------------------------------------------------------------
def _report(cells: dict[str, float], status: Outcome = Outcome.OK) -> EvalReport:
    return EvalReport(
        task="t",
        budget="short",
        status=status,
        harness_version="v",
        code_sha="c",
        wall_seconds=1.0,
        win_rate=0.5 if status is Outcome.OK else None,
        win_rate_ci=(0.4, 0.6) if status is Outcome.OK else None,
        cells=cells,
    )


CONTROLS = [
    Control("low", "low.py", "worse", "w", "r", "low"),
    Control("high", "high.py", "better", "w", "r", "high"),
    Control("same", "same.py", "better", "w", "r", "same"),
]
CELLS = [f"d{i}-s{s}" for i in range(3) for s in range(3)]


def _cells(values) -> dict[str, float]:
    return dict(zip(CELLS, (float(v) for v in values), strict=True))


def test_pair_verdicts_on_crafted_cells():
    rng = np.random.default_rng(0)
    low = rng.uniform(0.3, 0.5, len(CELLS))
    reports = {
        "low": _report(_cells(low)),
        "high": _report(_cells(low + 0.2 + rng.uniform(-0.02, 0.02, len(CELLS)))),
        "same": _report(_cells(low + rng.normal(0, 0.05, len(CELLS)))),
    }
    table = calibration.compare(reports, CONTROLS)
    verdicts = {(p["worse"], p["better"]): p["verdict"] for p in table["pairs"]}
    assert verdicts == {("low", "high"): SEPARATED, ("low", "same"): CANNOT}
    assert table["confidence"] == pytest.approx(1 - 0.05 / 2)  # Bonferroni over the two pairs
    assert not table["separates"]
    high = table["pairs"][0]
    assert high["cells"] == len(CELLS) and high["ci"][0] > 0.15 and high["difference"] > 0.18
    # Swapped ranks: the harness puts the "better" control below the "worse" one.
    swapped = [
        Control("high", "high.py", "worse", "w", "r", "high"),
        Control("low", "low.py", "better", "w", "r", "low"),
    ]
    table = calibration.compare(reports, swapped)
    assert table["pairs"][0]["verdict"] == REVERSED and not table["separates"]
    only = calibration.compare(reports, CONTROLS[:2])
    assert only["separates"] and only["confidence"] == pytest.approx(0.95)


def test_the_bonferroni_correction_widens_the_interval():
    rng = np.random.default_rng(1)
    low = rng.uniform(0.3, 0.5, len(CELLS))
    reports = {
        "low": _report(_cells(low)),
        "high": _report(_cells(low + rng.normal(0.03, 0.03, len(CELLS)))),
    }
    one = calibration.compare(reports, CONTROLS[:2])["pairs"][0]["ci"]
    many = calibration.compare(reports, CONTROLS[:2], alpha=0.05 / 20)["pairs"][0]["ci"]
    assert many[0] < one[0] and many[1] > one[1]


def test_a_failed_control_cannot_separate_and_says_why():
    reports = {
        "low": _report({}, Outcome.HYP_ERROR),
        "high": _report(_cells(range(9))),
        "same": _report({"other-s0": 1.0}),
    }
    table = calibration.compare(reports, CONTROLS)
    assert [p["verdict"] for p in table["pairs"]] == [CANNOT, CANNOT]
    assert table["pairs"][0]["note"] == "low did not finish"
    assert table["pairs"][1]["note"] == "low did not finish"
    reports["low"] = _report(_cells(range(9)))
    table = calibration.compare(reports, CONTROLS)
    assert table["pairs"][1]["note"] == "no common cells to compare"
    json.dumps(table)


class _FakeEvaluator:
    task = "activation"
    version = "abc123"
    split_set = "hard"
    splits_id = "ffff0000"
    data_secret = None
    metric = "test accuracy"

    def __init__(self, reports: dict[str, EvalReport], infra: bool = False):
        self.reports, self.infra = reports, infra
        self.splits = [datasets.split("moons", 0)]

    def evaluate(self, source: str, budget: str) -> EvalReport:
        if self.infra:
            return _report({}, Outcome.INFRA_ERROR)
        return self.reports[source]


def _result() -> dict:
    low = np.linspace(0.3, 0.5, len(CELLS))
    reports = {"low": _report(_cells(low)), "high": _report(_cells(low + 0.3))}
    return calibration.calibrate(_FakeEvaluator(reports), CONTROLS[:2], "short")


def test_calibrate_is_json_and_saved_and_loaded(tmp_path):
    result = _result()
    assert result["separates"] and result["budget"] == "short"
    assert [c["name"] for c in result["controls"]] == ["low", "high"]
    assert result["controls"][1]["metric_mean"] == pytest.approx(0.7)
    path = calibration.save(tmp_path, result)
    assert path == tmp_path / "calibration" / "activation-abc123-hard-short.json"
    assert calibration.load(tmp_path, "activation", "abc123", "hard", "short") == result
    assert calibration.load(tmp_path, "activation", "abc123", "hard", "full") is None
    assert not list(path.parent.glob("*.tmp"))
    path.write_text("{not json")
    assert calibration.load(tmp_path, "activation", "abc123", "hard", "short") is None
    path.write_text("[1, 2]")
    assert calibration.load(tmp_path, "activation", "abc123", "hard", "short") is None
    path.write_bytes(b"\xff")
    assert calibration.load(tmp_path, "activation", "abc123", "hard", "short") is None


def test_an_infrastructure_failure_stops_the_calibration():
    with pytest.raises(InfraError, match="control low"):
        calibration.calibrate(_FakeEvaluator({}, infra=True), CONTROLS[:2], "short")


def test_render_and_summary_lines():
    result = _result()
    text = "\n".join(calibration.render(result))
    assert "low < high" in text and "separated" in text
    assert text.endswith("the harness separates the known-worse from the known-better")
    md = calibration.summary_lines(result)
    assert md[-1] == "Conclusion: the harness separates the known-worse from the known-better."
    assert any(line.startswith("| low < high | +0.300") for line in md)
    result["separates"] = False
    result["pairs"][0]["verdict"] = REVERSED
    assert calibration.verdict_line(result) == "the harness cannot separate: low vs high (reversed)"
    assert calibration.render({})[-1] == "the harness cannot separate: no pairs"


# -- the CLI ---------------------------------------------------------------------------------------
def test_cli_calibrate_checks_its_options_before_any_sandbox(monkeypatch):
    from hypoforge import cli
    from hypoforge.cli import common

    def no_sandbox(settings):
        raise AssertionError("no sandbox for a usage error")

    monkeypatch.setattr(common, "make_sandbox", no_sandbox)
    runner = CliRunner()
    for args, message in [
        (["calibrate", "activation", "--budget", "huge"], "unknown budget 'huge'"),
        (["calibrate", "activation", "--splits", "easy"], "unknown split set 'easy'"),
        (["calibrate", "nosuchtask"], "nosuchtask"),
    ]:
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_cli_calibrate_prints_the_tables_and_the_verdict(monkeypatch, tmp_path):
    from hypoforge import cli
    from hypoforge.cli import common

    class Sandbox:
        def preflight(self):
            pass

        def reap_orphans(self):
            pass

        def close(self):
            pass

    made = {}
    canned = _result()

    def fake_calibrate(evaluator, controls, budget, notify=None):
        made.update(split_set=evaluator.split_set, budget=budget, n=len(controls))
        return {**canned, "split_set": evaluator.split_set, "harness_version": "v1"}

    monkeypatch.setattr(common, "make_sandbox", lambda settings: Sandbox())
    monkeypatch.setattr(calibration, "calibrate", fake_calibrate)
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cli.app, ["calibrate", "activation"])
    assert result.exit_code == 0, result.output
    assert made == {"split_set": "hard", "budget": "short", "n": 5}
    assert "the harness separates the known-worse from the known-better" in result.output
    assert (tmp_path / "calibration" / "activation-v1-hard-short.json").exists()
    result = runner.invoke(cli.app, ["calibrate", "activation", "--splits", "selection", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["split_set"] == "selection"


# -- the split sets --------------------------------------------------------------------------------
SELECTION_NAMES = {
    "activation": [f"{d}-s{s}" for d in datasets.DATASETS for s in datasets.SEEDS],
    "preprocess": [f"{d}-s{s}" for d in datasets.DATASETS for s in datasets.SEEDS],
    "regularizer": [f"{d}-s{s}" for d in datasets.DATASETS for s in datasets.SEEDS],
    "grokking": ["add31-s0", "add31-s1", "add31-s2"],
}


@pytest.mark.parametrize("task", sorted(EVALUATORS))
def test_split_sets_are_disjoint_from_selection(task):
    ev = EVALUATORS[task]
    sets = {name: ev.splits_for(name, PUBLIC) for name in ev.split_sets.names}
    names = {k: [s.name for s in v] for k, v in sets.items()}
    assert names["selection"] == SELECTION_NAMES[task]
    for held in ("confirmation", "hard"):
        assert names[held], held
        assert len(set(names[held])) == len(names[held]), held
        assert not set(names[held]) & set(names["selection"]), held
        assert all(s.secret_id == PUBLIC.id for s in sets[held])


def test_split_set_contents():
    pre = [s.name for s in PreprocessEvaluator.splits_for("confirmation", PUBLIC)]
    assert len(pre) == 18 and {"checkerboard-s3", "manyclass-s4", "wine-s3"} <= set(pre)
    hard = PreprocessEvaluator.splits_for("hard", PUBLIC)
    assert [s.name for s in hard][:3] == ["wide_manyclass-s0", "wide_manyclass-s1",
                                          "wide_manyclass-s2"]  # fmt: skip
    assert len(hard) == 9 and all(s.depth == 2 for s in hard)  # deep splits: activation only
    reg = RegularizerEvaluator.splits_for("confirmation", PUBLIC)
    assert len(reg) == 18 and {s.name for s in reg} >= {"checkerboard-s3", "manyclass-s4"}
    few = RegularizerEvaluator.splits_for("hard", PUBLIC)
    assert [s.name for s in few] == [
        f"few_{d}-s{s}" for d in regularizer_data.HARD_DATASETS for s in datasets.SEEDS
    ]
    assert all(len(s.x_train) == regularizer_data.HARD_TRAIN for s in few)
    grok = [s.name for s in GrokkingEvaluator.splits_for("confirmation", PUBLIC)]
    assert grok == ["add31-s3", "add31-s4", "add23-s3", "add23-s4", "add29-s3", "add29-s4"]
    assert [s.n_classes for s in GrokkingEvaluator.splits_for("hard", PUBLIC)] == [37] * 3


def test_selection_splits_are_unchanged():
    """Selection is drawn exactly as before the split sets existed (same arrays)."""
    for name, seed in (("wine", 1), ("spirals", 0)):
        raw = preprocess_data.raw_split(name, seed)
        sel = {s.name: s for s in PreprocessEvaluator.splits_for("selection", PUBLIC)}
        assert np.array_equal(sel[raw.name].x_train, raw.x_train)
        small = {s.name: s for s in RegularizerEvaluator.splits_for("selection", PUBLIC)}
        assert len(small[f"{name}-s{seed}"].x_train) == max(
            regularizer_data.MIN_TRAIN, regularizer_data.PER_CLASS * raw.n_classes
        )
    from evaluators.grokking.data import modular_addition
    from evaluators.kit.secrets import derive_seed

    x_tr, y_tr, _, _ = modular_addition(31, derive_seed(PUBLIC, "grokking", 31, 2))
    sel = GrokkingEvaluator.splits_for("selection", PUBLIC)[2]
    assert np.array_equal(sel.x_train, x_tr) and np.array_equal(sel.y_train, y_tr)


@pytest.mark.parametrize("task", ["preprocess", "regularizer", "grokking"])
def test_split_sets_are_deterministic_under_a_secret(task, tmp_path):
    ev = EVALUATORS[task]
    a = installation_secret(tmp_path / "a")
    b = installation_secret(tmp_path / "b")
    for held in ("confirmation", "hard"):
        first = ev.splits_for(held, a)
        again = ev.splits_for(held, installation_secret(tmp_path / "a"))
        other = ev.splits_for(held, b)
        assert [s.name for s in first] == [s.name for s in other]
        for x, y, z in zip(first, again, other, strict=True):
            assert np.array_equal(x.x_train, y.x_train) and np.array_equal(x.y_test, y.y_test)
            assert x.secret_id == a.id and z.secret_id == b.id
        pairs = zip(first, other, strict=True)
        assert any(not np.array_equal(x.x_train, z.x_train) for x, z in pairs)


def test_hard_preprocess_columns_span_decades():
    s = preprocess_data.wide_split("manyclass", 0)
    spread = s.x_train.std(axis=0)
    assert spread.max() / spread.min() > 100  # scaling matters: columns four decades apart
    same = datasets.split("manyclass", 0)
    assert np.array_equal(s.y_test, same.y_test)


def test_grokking_hard_and_held_out_are_other_tables():
    a = grokking_data.split(37, 0)
    assert a.x_train.max() == 37 and len(a.y_train) + len(a.y_test) == 37 * 37
