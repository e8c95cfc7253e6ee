"""``hypoforge task new``: block guessing, --blocks, the files written and every line printed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from core.errors import ConfigError
from evaluators.edits import blocks
from hypoforge import cli, tasknew

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "scripts" / "digits_mlp.py"
runner = CliRunner()

SCRIPT = '''"""A plain script."""
import argparse

import torch
from torch import nn
from sklearn.datasets import load_wine

WIDTH = 16
LR = 0.01


class Layer(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n)

    def forward(self, x):
        return self.lin(x)


class Net(nn.Module):
    def __init__(self, in_features, n_classes, depth=2):
        super().__init__()
        self.layer = Layer(in_features)
        self.out = nn.Linear(in_features, n_classes)

    def forward(self, x):
        return self.out(self.layer(x))


SEED = 3


def make_opt(params):
    return torch.optim.SGD(params, lr=LR)


def criterion(logits, y, model):
    return torch.nn.functional.cross_entropy(logits, y)


def fit(model, x, y):
    for _ in range(10):
        criterion(model(x), y, model).backward()


def main():
    print(load_wine())


if __name__ == "__main__":
    main()
'''


def test_guess_finds_constants_modules_optimizer_and_loss():
    g = tasknew.guess(SCRIPT)
    assert [(s.name, s.first, s.last, s.defines) for s in g.spans] == [
        ("hyperparameters", 8, 9, None),
        ("model", 12, 28, "Net"),
        ("optimizer", 34, 35, "make_opt"),
        ("loss", 38, 39, "criterion"),
    ]
    assert g.model == "Net" and g.model_args == ["in_features", "n_classes"]
    assert (g.optimizer, g.optimizer_arg, g.loss, g.loss_arity) == (
        "make_opt",
        "params",
        "criterion",
        3,
    )
    assert g.dataset == "load_wine" and g.entry is None
    assert [str(n) for n in g.notes] == [
        "script:31: a constant outside the hyperparameters block stays fixed; move it into the "
        "block (or --blocks) to let hypotheses change it"
    ]


def test_guess_takes_the_longest_run_of_constants_and_notes_the_training_length():
    g = tasknew.guess("A = 1\n\nimport math\nB = 2\nC = 3\nN_STEPS = 4\n")
    assert [(s.name, s.first, s.last) for s in g.spans] == [("hyperparameters", 4, 6)]
    assert [str(n) for n in g.notes] == [
        "script:1: a constant outside the hyperparameters block stays fixed; move it into the "
        "block (or --blocks) to let hypotheses change it",
        "script:6: the rungs in task.toml set the training length (rung['steps']); the wrapper "
        "does not read this constant",
    ]


def test_guess_of_a_script_with_nothing_to_edit_is_empty():
    g = tasknew.guess("import torch\n\ndef go():\n    for i in range(3):\n        pass\n")
    assert g.spans == [] and g.model is None and g.optimizer is None and g.loss is None


def test_a_model_class_after_other_code_gets_a_note_and_stays_fixed():
    src = "from torch import nn\n\nclass A(nn.Module):\n    pass\n\nX = f()\n\n"
    src += "class B(A):\n    pass\n"
    g = tasknew.guess(src)
    assert [(s.name, s.first, s.last, s.defines) for s in g.spans] == [("model", 8, 9, "B")]
    assert [str(n) for n in g.notes] == [
        "script:3: class A is an nn.Module outside the model block: it stays fixed"
    ]


def test_a_script_that_is_not_python_names_its_line():
    with pytest.raises(ConfigError, match=r"^script:2: not valid Python: "):
        tasknew.guess("x = 1\ndef (:\n")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["model"], "--blocks 'model': write NAME=START-END, e.g. model=12-40"),
        (["model=9-8"], "--blocks model=9-8: lines 9-8 are not a range of the script's 52 lines"),
        (
            ["model=50-60"],
            "--blocks model=50-60: lines 50-60 are not a range of the script's 52 lines",
        ),
        (["a=8-8", "a=9-9"], "--blocks a=9-9: a second block named 'a'"),
        (["a=8-9", "b=9-9"], "--blocks b=9-9: overlaps block a (8-9)"),
        (
            ["model=12-14"],
            "--blocks model=12-14: cuts the top-level statement at lines 12-18; a block holds "
            "whole top-level statements",
        ),
    ],
)
def test_bad_blocks_options_give_one_line(values, message):
    with pytest.raises(ConfigError) as caught:
        tasknew.parse_blocks(values, SCRIPT)
    assert str(caught.value) == message


def test_blocks_options_become_spans_with_what_they_define():
    spans = tasknew.parse_blocks(["net=21-28", "knobs=8-9"], SCRIPT)
    assert [(s.name, s.first, s.last, s.defines) for s in spans] == [
        ("knobs", 8, 9, None),
        ("net", 21, 28, "Net"),
    ]


def test_mark_puts_markers_around_the_lines_and_comments_out_foreign_imports():
    text, notes = tasknew.mark(SCRIPT, tasknew.parse_blocks(["knobs=8-9"], SCRIPT))
    lines = text.splitlines()
    assert lines[1] == "# (not in the sandbox; data come from data.py) import argparse"
    assert (
        lines[5]
        == "# (not in the sandbox; data come from data.py) from sklearn.datasets import load_wine"
    )
    assert lines[7:11] == ["# >>> EDIT knobs", "WIDTH = 16", "LR = 0.01", "# <<< EDIT knobs"]
    assert [b.name for b in blocks(text)] == ["knobs"]
    assert [str(n) for n in notes] == [
        "train.py:2: import of argparse commented out: the sandbox gives out math, numpy and "
        "torch only",
        "train.py:6: import of sklearn.datasets commented out: the sandbox gives out math, numpy "
        "and torch only",
    ]


def test_mark_notes_code_that_runs_when_the_script_is_loaded():
    src = "import torch\nX = torch.zeros(3)\nprint(X)\nY = 2\n"
    _, notes = tasknew.mark(src, [])
    assert [str(n) for n in notes] == [
        f"script:{line}: top-level code runs whenever the harness loads the script; move it into "
        "a function (or under if __name__ == '__main__')"
        for line in (2, 3)
    ]


def test_the_entry_point_calls_the_guessed_names():
    stub, todo = tasknew.entry_point(tasknew.guess(SCRIPT), "accuracy")
    assert todo == []
    assert "    model = Net(n_features, n_classes)\n" in stub
    assert "    optimizer = make_opt(model.parameters())\n" in stub
    assert "        loss = criterion(output, y, model)\n" in stub
    assert 'predictions = {"labels": output.argmax(dim=1).numpy().astype(np.int64)}' in stub
    ast.parse(stub)


def test_the_entry_point_says_what_it_could_not_guess():
    g = tasknew.guess(
        "from torch import nn\n\nclass M(nn.Module):\n    def __init__(self, k):\n        pass\n"
    )
    stub, todo = tasknew.entry_point(g, "mse")
    assert todo == [
        "the arguments of M(k): k",
        "no optimizer function found: the wrapper uses a fixed Adam (lr 1e-3)",
        "no loss function found: the wrapper uses a fixed F.mse_loss",
    ]
    assert "    model = M(TODO_k)\n" in stub
    assert "torch.nn.functional.mse_loss(output, y)  # TODO: fixed, not editable" in stub
    ast.parse(stub)
    _, todo = tasknew.entry_point(tasknew.Guess(), "mmd")
    assert todo[0] == "no nn.Module class found: build the model where it says TODO"
    assert todo[-1] == (
        "the metric mmd reads predictions this wrapper cannot guess: write them "
        "(see evaluators/template/metrics.py)"
    )


def test_create_writes_the_folder_and_a_working_data_module(tmp_path):
    from evaluators.kit.secrets import PUBLIC
    from hypoforge.taskcheck import load_data, static_problems

    made = tasknew.create("digits", EXAMPLE, tmp_path)
    folder = tmp_path / "digits"
    assert made.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "baselines",
        "data.py",
        "description.md",
        "task.toml",
        "train.py",
    ]
    assert (folder / "baselines" / "template.edits").read_text() == ""
    train = (folder / "train.py").read_text()
    assert [b.name for b in blocks(train)] == ["hyperparameters", "model", "optimizer", "loss"]
    assert train.count("def train_and_predict(inputs, rung, seed, checks):") == 1
    assert static_problems(folder, PUBLIC) == []
    splits = load_data(folder / "data.py").selection(PUBLIC)
    assert [s.name for s in splits] == ["digits-s0", "digits-s1", "digits-s2"]
    first = splits[0]
    assert set(first.inputs) == {"x_train", "y_train", "x_eval", "n_classes"}
    assert set(first.targets) == {"labels"}
    assert len(first.inputs["x_eval"]) == len(first.targets["labels"]) == 539
    assert len(first.inputs["x_train"]) == 1797 - 539
    assert int(first.inputs["n_classes"]) == 10
    # Re-split per seed: another seed holds out other rows.
    assert not (splits[0].inputs["x_eval"] == splits[1].inputs["x_eval"]).all()


def test_task_new_prints_what_it_guessed_and_what_to_check(tmp_path):
    result = runner.invoke(
        cli.app, ["task", "new", "digits", "--script", str(EXAMPLE), "--into", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "digits"
    assert result.output.splitlines() == [
        f"task folder: {folder}",
        "  digits_mlp.py:17-22: block hyperparameters: top-level UPPER_CASE constants",
        "  digits_mlp.py:25-38: block model: nn.Module classes (MLP is the model)",
        "  digits_mlp.py:41-42: block optimizer: make_optimizer builds a torch.optim optimizer",
        "  digits_mlp.py:45-46: block loss: loss_fn computes the training loss",
        "  digits_mlp.py:22: the rungs in task.toml set the training length (rung['steps']); the "
        "wrapper does not read this constant",
        "  train.py:8: import of argparse commented out: the sandbox gives out math, numpy and "
        "torch only",
        "  train.py:13: import of sklearn.datasets commented out: the sandbox gives out math, "
        "numpy and torch only",
        "  train.py:14: import of sklearn.model_selection commented out: the sandbox gives out "
        "math, numpy and torch only",
        "  train.py:97: train_and_predict was written from the guess: check it against the "
        "script's training code",
        "  data.py: load_digits's rows, re-split per seed from the secret",
        "  task.toml: rungs of 100 / 300 / 900 steps: `task check` times them; set them to your "
        "script's scale",
        "  description.md: TODO: say what the task asks, for the agents",
        f"next: edit the TODOs, then `hypoforge task check {folder}`",
    ]
    train = (folder / "train.py").read_text().splitlines()
    assert train[96] == "def train_and_predict(inputs, rung, seed, checks):"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["Bad"],
            "task name 'Bad': lower-case letters, digits, '-' and '_', starting with a letter",
        ),
        (
            ["ok", "--metric", "f1"],
            "--metric 'f1': choose one of accuracy, bits_per_token, cross_entropy, curve_area, "
            "mmd, mse, nn_kl",
        ),
        (["ok", "--blocks", "m=1"], "--blocks 'm=1': write NAME=START-END, e.g. model=12-40"),
        (
            ["grokking"],
            f"a task named 'grokking' exists ({ROOT / 'evaluators' / 'grokking'}); "
            "choose another name",
        ),
    ],
)
def test_task_new_refuses_in_one_line(tmp_path, args, message):
    result = runner.invoke(
        cli.app,
        ["task", "new", *args[:1], "--script", str(EXAMPLE), "--into", str(tmp_path), *args[1:]],
    )
    assert result.exit_code == 2
    assert result.stderr == f"hypoforge: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_task_new_never_overwrites_a_folder(tmp_path):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "mine.txt").write_text("keep")
    result = runner.invoke(
        cli.app, ["task", "new", "digits", "--script", str(EXAMPLE), "--into", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"hypoforge: error: {tmp_path / 'digits'} already exists; task new never overwrites a "
        "folder\n"
    )
    assert [p.name for p in (tmp_path / "digits").iterdir()] == ["mine.txt"]


def test_task_new_refuses_a_missing_script_and_one_already_marked(tmp_path):
    result = runner.invoke(
        cli.app, ["task", "new", "x", "--script", str(tmp_path / "no.py"), "--into", str(tmp_path)]
    )
    assert (
        result.stderr
        == f"hypoforge: error: cannot read {tmp_path / 'no.py'}: No such file or directory\n"
    )
    marked = tmp_path / "m.py"
    marked.write_text("# >>> EDIT a\nA = 1\n# <<< EDIT a\n")
    with pytest.raises(ConfigError, match="already has editable blocks"):
        tasknew.create("x", marked, tmp_path)


def test_a_script_with_its_own_entry_point_keeps_it_and_is_told_its_signature(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("A = 1\n\n\ndef train_and_predict(x, y):\n    return {}, 0\n")
    made = tasknew.create("own", script, tmp_path)
    assert "s.py:4: train_and_predict must take (inputs, rung, seed, checks), not (x, y)" in [
        str(n) for n in made.notes
    ]
    assert (made.folder / "train.py").read_text().count("def train_and_predict") == 1
    assert "data.py: TODO: a stub: write selection(secret) (it raises now)" in [
        str(n) for n in made.notes
    ]


# -- properties: total on any input ----------------------------------------------------------------
@given(st.lists(st.text(max_size=20), max_size=4))
def test_parse_blocks_raises_only_config_errors(values):
    try:
        spans = tasknew.parse_blocks(values, SCRIPT)
    except ConfigError:
        return
    text, _ = tasknew.mark(SCRIPT, spans)
    assert [b.name for b in blocks(text)] == [s.name for s in spans]


LINES = st.sampled_from(
    [
        "A = 1",
        "LR: float = 0.1",
        "import os",
        "from sklearn import datasets",
        "class M(nn.Module):\n    pass",
        "def loss_fn(a, b):\n    return a",
        "def opt(m):\n    return torch.optim.SGD(m.parameters(), lr=1)",
        "def train():\n    for i in range(2):\n        pass",
        "x = f()",
        "if __name__ == '__main__':\n    main()",
        "",
        "# a comment",
    ]
)


@given(st.lists(LINES, max_size=12))
def test_guessed_blocks_always_mark_a_valid_template(parts):
    source = "\n".join(parts) + "\n"
    g = tasknew.guess(source)
    text, _ = tasknew.mark(source, g.spans)
    assert [b.name for b in blocks(text)] == [s.name for s in g.spans]
    ast.parse(text)
    stub, _ = tasknew.entry_point(g, "accuracy")
    ast.parse(text + stub)


def test_run_refuses_a_task_folder_named_as_another_task(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    made = tasknew.create("mine", EXAMPLE, tmp_path)
    toml = made.folder / "task.toml"
    toml.write_text(toml.read_text().replace('name = "mine"', 'name = "grokking"'))
    args = ["run", "--task", str(made.folder), "--campaign", str(tmp_path / "c")]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"hypoforge: error: the task in {made.folder} is named 'grokking', as the task in "
        f"{ROOT / 'evaluators' / 'grokking'}: rename it in its task.toml\n"
    )
    assert not (tmp_path / "c").exists()


def test_create_names_the_script_in_its_errors(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("x = 1\ndef (:\n")
    with pytest.raises(ConfigError) as caught:
        tasknew.create("broken", script, tmp_path)
    assert str(caught.value).startswith(f"{script}:2: not valid Python: ")
    assert not (tmp_path / "broken").exists()
