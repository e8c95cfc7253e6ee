"""``hypoforge task check``: one exact line per problem, from the host's checks and from the
sandbox's reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from core.errors import ConfigError
from core.records import EvalReport, Outcome
from evaluators.kit.secrets import PUBLIC
from hypoforge import cli, taskcheck, tasknew

runner = CliRunner()

SCRIPT = """import torch
import torch.nn.functional as F
from torch import nn
from sklearn.datasets import load_wine

WIDTH = 8
LR = 0.01


class Net(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.lin = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.lin(x)


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=LR)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    script = tmp_path / "plain.py"
    script.write_text(SCRIPT)
    return tasknew.create("wine", script, tmp_path).folder


def problems(folder: Path) -> list[str]:
    return [str(p) for p in taskcheck.static_problems(folder, PUBLIC)]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_fresh_folder_has_no_problems(folder):
    assert problems(folder) == []


def test_no_folder_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^no task folder at .*nothing$"):
        taskcheck.static_problems(tmp_path / "nothing", PUBLIC)


# -- task.toml -------------------------------------------------------------------------------------
def test_a_metric_not_in_the_list_names_its_line(folder):
    edit(folder / "task.toml", 'metric = "accuracy"', 'metric = "f1"')
    assert problems(folder) == [
        "task.toml:9: metric 'f1' is not in the list: accuracy, cross_entropy, bits_per_token, "
        "mse, mmd, nn_kl, curve_area"
    ]


def test_task_toml_missing_broken_of_another_kind_or_without_its_table(folder):
    toml = folder / "task.toml"
    text = toml.read_text()
    toml.write_text("name = \n")
    assert problems(folder)[0].startswith("task.toml: not valid TOML: ")
    toml.write_text(text.replace('kind = "template"', 'kind = "plugin"'))
    assert problems(folder) == [
        "task.toml:4: kind is 'plugin': task check checks template tasks (kind = \"template\")"
    ]
    toml.write_text(text.split("[template]")[0])
    assert problems(folder) == ["task.toml: no [template] table"]
    toml.write_text(text.split("[template.rungs.full]")[0])
    assert problems(folder) == [
        "task.toml: [template] rungs: missing full: the rungs are exactly one-pass, short, full"
    ]
    toml.unlink()
    assert problems(folder) == ["task.toml: missing: a task folder needs one"]


# -- train.py --------------------------------------------------------------------------------------
def test_no_blocks(folder):
    train = folder / "train.py"
    text = train.read_text()
    train.write_text(
        "\n".join(x for x in text.splitlines() if "# >>>" not in x and "# <<<" not in x)
    )
    edit(
        folder / "task.toml",
        'required = { model = "Net", optimizer = "make_optimizer", loss = "loss_fn" }',
        "required = {}",
    )
    assert problems(folder) == [
        "train.py: no editable blocks: mark the lines hypotheses may change with "
        "'# >>> EDIT <name>' and '# <<< EDIT <name>' lines"
    ]


def test_markers_that_do_not_pair_name_their_line(folder):
    edit(folder / "train.py", "# <<< EDIT model\n", "")
    assert problems(folder) == ["train.py:22: block 'optimizer' opens inside 'model'"]


def test_a_script_that_is_not_python_names_its_line(folder):
    edit(folder / "train.py", "WIDTH = 8\n", "WIDTH = = 8\n")
    assert problems(folder) == ["train.py:7: not valid Python: invalid syntax"]


def test_required_blocks_and_names(folder):
    edit(folder / "task.toml", 'loss = "loss_fn"', 'loss = "loss_fn", schedule = "warmup"')
    edit(folder / "train.py", "def make_optimizer(model):", "def build_optimizer(model):")
    assert problems(folder) == [
        "train.py:23: block optimizer does not define make_optimizer (task.toml [template] "
        "required)",
        "task.toml:10: required names block 'schedule', which train.py does not have",
    ]


def test_the_entry_point_missing_inside_a_block_or_with_other_arguments(folder):
    train = folder / "train.py"
    text = train.read_text()
    train.write_text(
        text.replace(
            "def train_and_predict(inputs, rung, seed, checks):",
            "def go(inputs, rung, seed, checks):",
        )
    )
    assert problems(folder) == [
        "train.py: no train_and_predict(inputs, rung, seed, checks) at the top level: the harness "
        "calls it"
    ]
    train.write_text(
        text.replace(
            "def train_and_predict(inputs, rung, seed, checks):",
            "def train_and_predict(inputs, seed):",
        )
    )
    line = text.splitlines().index("def train_and_predict(inputs, rung, seed, checks):") + 1
    assert problems(folder) == [
        f"train.py:{line}: train_and_predict takes (inputs, seed), not (inputs, rung, seed, checks)"
    ]
    train.write_text(text.replace("# <<< EDIT loss\n", "") + "# <<< EDIT loss\n")
    assert problems(folder) == [
        f"train.py:{line - 1}: train_and_predict is inside block loss: the entry point must be "
        "fixed"
    ]


def test_unedited_blocks_that_break_the_rules(folder):
    edit(folder / "train.py", "LR = 0.01\n", "LR = 0.01\nimport os\n")
    assert problems(folder) == [
        "train.py:9: the unedited blocks break the rules: Import is not allowed in a block"
    ]


# -- data.py ---------------------------------------------------------------------------------------
def test_a_data_module_that_fails_names_its_line(folder):
    data = folder / "data.py"
    edit(
        data,
        "    x, y = load_wine(return_X_y=True)\n",
        "    x, y = load_wine(return_X_y=True)\n    1 / 0\n",
    )
    line = data.read_text().splitlines().index("    1 / 0") + 1
    assert problems(folder) == [
        f"data.py:{line}: selection() failed: ZeroDivisionError: division by zero",
        f"data.py:{line}: confirmation() failed: ZeroDivisionError: division by zero",
    ]


def test_a_data_module_that_fails_on_import(folder):
    (folder / "data.py").write_text("import numpy\n\nraise RuntimeError('no data here')\n")
    assert problems(folder) == ["data.py:3: fails on import: RuntimeError: no data here"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("X = 1\n", "data.py: defines no selection(secret)"),
        ("def selection(secret):\n    return []\n", "data.py: selection() returned no splits"),
        ("def selection(secret):\n    return None\n", "data.py: selection() returned no splits"),
        (
            "def selection(secret):\n    return [3]\n",
            "data.py: selection() returned a int, not a TemplateSplit",
        ),
        (
            "import numpy as np\nfrom evaluators.template.data import TemplateSplit\n\n"
            "def selection(secret):\n    return [TemplateSplit('a-s0', {'x': np.zeros(2)}, "
            "{'values': np.zeros(2)})]\n",
            "data.py: selection(): split a-s0 has no target 'labels', which the metric accuracy "
            "reads",
        ),
    ],
)
def test_a_data_module_that_returns_no_splits(folder, body, message):
    (folder / "data.py").write_text(body)
    assert problems(folder) == [message]


def test_missing_files(folder):
    (folder / "data.py").unlink()
    assert problems(folder) == ["data.py: missing (task.toml [template] data)"]
    (folder / "train.py").unlink()
    assert problems(folder) == [
        "train.py: missing (task.toml [template] script)",
        "data.py: missing (task.toml [template] data)",
    ]


# -- what the sandbox gave -------------------------------------------------------------------------
def report(status: Outcome = Outcome.OK, **extra) -> EvalReport:
    fields = dict(
        task="wine", budget="one-pass", harness_version="v", code_sha="s", wall_seconds=4.25
    )
    return EvalReport(status=status, **{**fields, **extra})


BASE = {"template": {("wine", 0): 0.9, ("wine", 1): 0.8}}
CELLS = {"wine-s0": 0.9, "wine-s1": 0.8}


def test_a_deterministic_template_gives_its_time_and_score():
    lines, found = taskcheck._judge(
        report(cells=CELLS, flags=("bigger model: x",)), BASE, "one-pass", 90, "train.py"
    )
    assert lines == [
        "rung one-pass: 4.2 s of the 90 s allowed, mean score 0.8500 on 2 splits",
        "rung one-pass: flagged: bigger model: x",
    ]
    assert found == []


def test_a_template_that_is_not_deterministic():
    _, found = taskcheck._judge(
        report(cells={**CELLS, "wine-s1": 0.75}), BASE, "short", 240, "train.py"
    )
    assert [str(p) for p in found] == [
        "train.py: not deterministic: two runs of the unedited template at short scored 0.8 and "
        "0.75 on wine-s1; draw every random number from seed (torch.manual_seed(seed), "
        "np.random.default_rng(seed))"
    ]


def test_a_template_that_crashes_names_the_line_of_its_trace(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    trace = 'File "/hf/in/candidates/candidate.py", line 57, in train_and_predict\n'
    (out / "status.json").write_text(json.dumps({"candidate": {"stage": "train", "trace": trace}}))
    crashed = report(
        Outcome.HYP_ERROR, reason="NameError: name 'Nett' is not defined", artifacts=str(out)
    )
    _, found = taskcheck._judge(crashed, None, "one-pass", 90, "train.py")
    assert [str(p) for p in found] == [
        "train.py:57: the unedited template failed in the sandbox at one-pass (hyp_error): "
        "NameError: name 'Nett' is not defined"
    ]


def test_a_template_that_runs_out_of_time():
    _, found = taskcheck._judge(
        report(Outcome.TIMEOUT, reason="wall"), None, "full", 700, "train.py"
    )
    assert [str(p) for p in found] == [
        "task.toml: rung full: the unedited template ran past its 700 s wall clock: lower its "
        "steps or raise wall_seconds"
    ]


@given(st.binary(max_size=300))
def test_the_trace_reader_is_total(tmp_path_factory, raw):
    out = tmp_path_factory.mktemp("o")
    (out / "status.json").write_bytes(raw)
    line = taskcheck._trace_line(report(artifacts=str(out)))
    assert line is None or isinstance(line, int)


@given(
    st.dictionaries(st.text(max_size=5), st.floats(allow_nan=True), max_size=4),
    st.dictionaries(st.text(max_size=5), st.floats(allow_nan=True), max_size=4),
)
def test_compare_runs_is_total_and_agrees_with_itself(a, b):
    assert taskcheck.compare_runs(a, a) is None
    why = taskcheck.compare_runs(a, b)
    assert why is None or isinstance(why, str)


# -- the command -----------------------------------------------------------------------------------
def test_task_check_prints_each_problem_and_exits_1_before_any_sandbox(
    folder, monkeypatch, tmp_path
):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    edit(folder / "task.toml", 'metric = "accuracy"', 'metric = "f1"')
    result = runner.invoke(cli.app, ["task", "check", str(folder)])
    assert result.exit_code == 1
    assert result.stdout == (
        "task.toml:9: metric 'f1' is not in the list: accuracy, cross_entropy, bits_per_token, "
        "mse, mmd, nn_kl, curve_area\n"
    )
    assert result.stderr == "hypoforge: 1 problem(s)\n"


def test_task_check_refuses_an_unknown_rung(folder):
    result = runner.invoke(cli.app, ["task", "check", str(folder), "--rungs", "one-pass,long"])
    assert result.exit_code == 2
    assert result.stderr == (
        "hypoforge: error: --rungs: unknown long; choose from one-pass, short, full\n"
    )


# -- the control panel -----------------------------------------------------------------------------
PANEL = """[[control]]
name = "tiny_lr"
file = "tiny_lr.edits"
rank = "worse"
why = "w"
reference = "r"

[[control]]
name = "recipe"
file = "recipe.edits"
rank = "better"
why = "b"
reference = "r"
"""


class PanelEvaluator:
    """Scores a control by its source: ``score=<value>`` on every cell."""

    task, version, split_set, splits_id, data_secret = "wine", "v", "selection", "s", None
    splits = ()

    def evaluate(self, source, budget):
        value = float(source.split("=")[1])
        cells = {f"wine-s{i}": value + 0.01 * i for i in range(3)}
        return report(cells=cells, win_rate=0.5)


def panel_folder(tmp_path, worse: float, better: float) -> Path:
    controls = tmp_path / "controls"
    controls.mkdir(parents=True)
    (controls / "controls.toml").write_text(PANEL)
    (controls / "tiny_lr.edits").write_text(f"score={worse}")
    (controls / "recipe.edits").write_text(f"score={better}")
    return tmp_path


def test_the_control_panel_ranking_and_its_verdict(tmp_path):
    found = taskcheck.controls_check(PanelEvaluator(), panel_folder(tmp_path, 0.5, 0.9), print)
    assert found.lines == [
        "controls at one-pass, best first: recipe (better, 0.9100) > tiny_lr (worse, 0.5100)",
        "the harness separates the known-worse from the known-better",
    ]
    assert found.problems == []


def test_a_control_panel_that_does_not_separate_is_a_problem(tmp_path):
    found = taskcheck.controls_check(PanelEvaluator(), panel_folder(tmp_path, 0.9, 0.5), print)
    assert found.lines == [
        "controls at one-pass, best first: tiny_lr (worse, 0.9100) > recipe (better, 0.5100)"
    ]
    assert [str(p) for p in found.problems] == [
        "controls/controls.toml: the harness cannot separate: tiny_lr vs recipe (reversed)"
    ]


def test_a_broken_control_panel_names_its_file(tmp_path):
    folder = panel_folder(tmp_path, 0.5, 0.9)
    (folder / "controls" / "recipe.edits").unlink()
    found = taskcheck.controls_check(PanelEvaluator(), folder, print)
    assert [str(p) for p in found.problems] == [
        "controls/controls.toml: control 'recipe': missing file recipe.edits"
    ]
