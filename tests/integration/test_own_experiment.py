"""A user's own experiment, end to end on the real sandbox: a plain training script (written for
this test only) -> `hypoforge task new` -> `hypoforge task check` -> `hypoforge run --task
./folder --proposals 4` with the embedded model; and an invalid folder per problem, each giving
its one line."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hypoforge import campaign, cli
from store.ledger import Ledger

pytestmark = [pytest.mark.docker, pytest.mark.slow]

runner = CliRunner()

# Not written for hypoforge: data loading, a split and a print, as such scripts have them.
PLAIN = '''"""Logistic-regression-like MLP on the wine dataset."""
import sys

import torch
import torch.nn.functional as F
from sklearn.datasets import load_wine
from torch import nn

WIDTH = 16
LR = 0.05
WEIGHT_DECAY = 0.0


class Classifier(nn.Module):
    def __init__(self, in_features, n_classes):
        super().__init__()
        self.hidden = nn.Linear(in_features, WIDTH)
        self.out = nn.Linear(WIDTH, n_classes)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def main():
    x, y = load_wine(return_X_y=True)
    x = torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
    y = torch.tensor(y)
    model = Classifier(x.shape[1], 3)
    opt = make_optimizer(model)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 200):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    print((model(x).argmax(1) == y).float().mean().item())


if __name__ == "__main__":
    main()
'''
# Small rungs, as a user sets them for a quick script (task new writes 100 / 300 / 900 steps).
RUNGS = {"one-pass": (60, 120), "short": (120, 120), "full": (180, 120)}


@pytest.fixture
def home(settings, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    monkeypatch.setenv("HYPOFORGE_TASKS", "")  # `run` puts the task's folder on it
    return settings.home


def make_task(tmp_path: Path, name: str = "wine-own") -> Path:
    script = tmp_path / "plain_wine.py"
    script.write_text(PLAIN)
    made = runner.invoke(
        cli.app, ["task", "new", name, "--script", str(script), "--into", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    folder = tmp_path / name
    toml = folder / "task.toml"
    text = toml.read_text()
    for rung, (steps, wall) in RUNGS.items():
        text = re.sub(
            rf"\[template\.rungs\.{rung}\]\nsteps = \d+\nwall_seconds = \d+\n",
            f"[template.rungs.{rung}]\nsteps = {steps}\nwall_seconds = {wall}\n",
            text,
        )
    assert text.count("steps = ") == 3 and "steps = 180\nwall_seconds = 120\n" in text
    toml.write_text(text)
    return folder


def variant(
    folder: Path, name: str, old: str, new: str, file: str = "train.py"
) -> tuple[Path, int]:
    """A copy of the task folder with one change; the 1-based line of the change."""
    copy = folder.parent / name
    shutil.copytree(folder, copy)
    path = copy / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    lines = [x.strip() for x in path.read_text().splitlines()]
    return copy, lines.index(new.strip()) + 1


def check(folder: Path, *args: str):
    return runner.invoke(cli.app, ["task", "check", str(folder), "--rungs", "one-pass", *args])


def test_own_experiment_from_plain_script_to_campaign(home, tmp_path):
    folder = make_task(tmp_path)

    checked = runner.invoke(cli.app, ["task", "check", str(folder)])
    assert checked.exit_code == 0, checked.output
    lines = checked.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "rung one-pass",
        "rung short",
        "rung full",
        f"{folder}",
    ]
    assert lines[-1] == f"{folder}: no problems found"
    assert all(" s of the 120 s allowed, mean score " in line for line in lines[:3])

    camp = tmp_path / "camp"
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the folder named as a user types it: ./wine-own
    try:
        args = ["run", "--task", "./wine-own", "--proposals", "4", "--batch", "2"]
        ran = runner.invoke(cli.app, [*args, "--workers", "1", "--campaign", str(camp)])
    finally:
        os.chdir(cwd)
    assert ran.exit_code == 0, ran.output
    info = campaign.load(camp)
    assert (info.task, info.task_folder) == ("wine-own", str(folder.resolve()))
    assert f"campaign {info.id} stopped: proposal budget reached (4/4)" in ran.stdout
    ledger = Ledger(camp / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    final = {"screened", "evaluated", "invalid", "failed", "rejected", "duplicate", "pruned"}
    assert len(rows) == 4
    assert all(r.stage in final for r in rows), [(r.stage, r.reason) for r in rows]
    # Another process finds the task again from the campaign alone (resume, report, paper).
    os.environ["HYPOFORGE_TASKS"] = ""
    status = runner.invoke(cli.app, ["status", str(camp)])
    assert status.exit_code == 0, status.output
    assert f"campaign {info.id} (wine-own): 4/4 proposals" in status.stdout
    report = runner.invoke(cli.app, ["report", str(camp)])
    assert report.exit_code == 0, report.output


def test_an_invalid_folder_gives_one_line_per_problem(home, tmp_path):
    folder = make_task(tmp_path)
    train = (folder / "train.py").read_text()

    no_blocks = tmp_path / "no-blocks"
    shutil.copytree(folder, no_blocks)
    unmarked = [x for x in train.splitlines() if not x.startswith(("# >>> EDIT", "# <<< EDIT"))]
    (no_blocks / "train.py").write_text("\n".join(unmarked) + "\n")
    result = check(no_blocks)
    assert (result.exit_code, result.stdout) == (
        1,
        "train.py: no editable blocks: mark the lines hypotheses may change with "
        "'# >>> EDIT <name>' and '# <<< EDIT <name>' lines\n",
    )

    bad_metric, line = variant(
        folder, "bad-metric", 'metric = "accuracy"', 'metric = "f1"', "task.toml"
    )
    result = check(bad_metric)
    assert (result.exit_code, result.stdout) == (
        1,
        f"task.toml:{line}: metric 'f1' is not in the list: accuracy, cross_entropy, "
        "bits_per_token, mse, mmd, nn_kl, curve_area\n",
    )

    sizes = 'n_features, n_classes = x.shape[1], int(inputs["n_classes"])'
    crashes, line = variant(folder, "crashes", sizes, sizes.replace('"n_classes"', '"classes"'))
    result = check(crashes)
    assert (result.exit_code, result.stdout) == (
        1,
        f"train.py:{line}: the unedited template failed in the sandbox at one-pass (hyp_error): "
        "KeyError: 'classes'\n",
    )

    unseeded = "torch.manual_seed(int(np.random.default_rng().integers(1 << 30)))"
    random, _ = variant(folder, "random", "torch.manual_seed(seed)", unseeded)
    result = check(random)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("rung one-pass: ")
    last = result.stdout.splitlines()[-1]
    assert last.startswith(
        "train.py: not deterministic: two runs of the unedited template at one-pass scored "
    )
    assert last.endswith(
        "; draw every random number from seed (torch.manual_seed(seed), "
        "np.random.default_rng(seed))"
    )
