"""task.toml of a template task: the [template] table checked, one line naming the file and the
key; the registry binds the kind's evaluator to the folder and finds a task by its path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.errors import ConfigError
from evaluators import registry
from evaluators.template.evaluator import TemplateEvaluator
from evaluators.template.spec import TemplateSpec

from .helpers import TINY, tiny_class

RUNGS = """
[template.rungs.one-pass]
steps = 4
wall_seconds = 10
[template.rungs.short]
steps = 8
wall_seconds = 10
[template.rungs.full]
steps = 16
wall_seconds = 10
"""
HEAD = 'name = "t"\nsummary = "s"\nslot = "edits(train.py) -> blocks"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.toml"
    path.write_text(text)
    return path


def test_a_metric_not_in_the_list_names_the_file_the_key_and_the_metrics(tmp_path):
    path = write(tmp_path, HEAD + 'kind = "template"\n[template]\nmetric = "f1"\n' + RUNGS)
    with pytest.raises(ConfigError) as err:
        registry.read_spec(path)
    assert str(err.value) == (
        f"{path}: template.metric: unknown metric 'f1'; choose one of: accuracy, "
        "cross_entropy, bits_per_token, mse, mmd, nn_kl, curve_area"
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('kind = "template"\n', "(top level): kind = 'template' needs a [template] table"),
        ("", "(top level): a plugin task names its evaluator (evaluator = 'module:Class')"),
        (
            'evaluator = "h:E"\n[template]\nmetric = "mse"\n' + RUNGS,
            "(top level): a [template] table needs kind = 'template'",
        ),
        (
            'kind = "template"\n[template]\nmetric = "mse"\nsteps = 3\n' + RUNGS,
            "template.steps: unknown key",
        ),
        (
            'kind = "template"\n[template]\nmetric = "mse"\n'
            "[template.rungs.one-pass]\nwall_seconds = 1\n",
            "template.rungs: missing short, full: the rungs are exactly one-pass, short, full",
        ),
        (
            'kind = "template"\n[template]\nmetric = "mse"\nmodules = ["os.path"]\n' + RUNGS,
            "template.modules: 'os.path' is not a module a training script may be handed",
        ),
        (
            'kind = "template"\n[template]\nmetric = "mse"\nparameter_budget = 0.5\n' + RUNGS,
            "template.parameter_budget: Input should be greater than or equal to 1",
        ),
        ('kind = "tabular"\n', "kind: Input should be 'plugin' or 'template'"),
    ],
)
def test_each_bad_table_is_one_line_naming_the_key(tmp_path, body, said):
    path = write(tmp_path, HEAD + body)
    with pytest.raises(ConfigError) as err:
        registry.read_spec(path)
    assert str(err.value) == f"{path}: {said}"


def test_a_rung_passes_its_own_keys_to_the_script_and_keeps_the_wall_clock():
    spec = TemplateSpec.model_validate(
        {
            "metric": "accuracy",
            "rungs": {
                "one-pass": {"epochs": 2, "wall_seconds": 30},
                "short": {"epochs": 4, "wall_seconds": 60},
                "full": {"epochs": 8, "batch": 16, "wall_seconds": 90},
            },
        }
    )
    assert spec.rung("full").table() == {"epochs": 8, "batch": 16}
    assert spec.rung("full").wall_seconds == 90
    assert (spec.required, spec.parameter_budget, spec.model_blocks) == ({}, 1.10, ["model"])


def test_the_registry_binds_the_kind_to_a_folder_found_by_its_path(monkeypatch):
    plugin = registry.get(str(TINY))
    assert (plugin.name, plugin.kind, plugin.folder) == ("tiny", "template", TINY.resolve())
    cls = plugin.evaluator_class()
    assert issubclass(cls, TemplateEvaluator) and cls is not TemplateEvaluator
    assert cls is plugin.evaluator_class()  # bound once per folder
    assert (cls.task, cls.folder, cls.metric) == ("tiny", TINY.resolve(), "held-out accuracy")
    monkeypatch.chdir(TINY.parent)
    assert registry.get("./tiny").folder == TINY.resolve()
    assert registry.get("tiny").folder == TINY.resolve()  # no task of that name: the folder


def test_a_path_without_a_task_toml_says_so(tmp_path):
    with pytest.raises(ConfigError) as err:
        registry.get(str(tmp_path))
    assert str(err.value) == f"{tmp_path}: no task.toml in this folder"


def copy_tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda f: (f / "train.py").write_text("def train_and_predict(i, r, s, c):\n    pass\n"),
            "train.py: no editable blocks ('# >>> EDIT <name>' ... '# <<< EDIT <name>')",
        ),
        (
            lambda f: (f / "train.py").write_text(
                (f / "train.py").read_text().replace("def train_and_predict(", "def run(")
            ),
            "train.py: the fixed part defines no train_and_predict(inputs, rung, seed, checks)",
        ),
        (
            lambda f: (f / "train.py").write_text(
                (f / "train.py")
                .read_text()
                .replace("# >>> EDIT loss", "# >>> EDIT objective")
                .replace("# <<< EDIT loss", "# <<< EDIT objective")
            ),
            "train.py: template.required names block(s) loss, which the script lacks (its "
            "blocks: hyperparameters, model, optimizer, objective)",
        ),
        (
            lambda f: (f / "train.py").write_text(
                (f / "train.py").read_text().replace("LR = 1e-2\n", "LR = 1e-2\nimport os\n")
            ),
            "train.py: the unedited blocks break the rules: train.py line 14: Import is not "
            "allowed in a block",
        ),
        (
            lambda f: (f / "data.py").write_text("X = 1\n"),
            "data.py: defines no selection(secret) -> list[TemplateSplit]",
        ),
        (
            lambda f: (f / "data.py").write_text("raise KeyError('corpus')\n"),
            "data.py: cannot load: KeyError: 'corpus'",
        ),
    ],
)
def test_a_broken_folder_is_one_line_naming_the_file(tmp_path, change, said):
    folder = copy_tiny(tmp_path)
    change(folder)
    with pytest.raises(ConfigError) as err:
        tiny_class(folder)
    assert str(err.value) == f"{folder.resolve()}/{said}"


def test_splits_without_the_metrics_target_are_refused_when_drawn(tmp_path):
    folder = copy_tiny(tmp_path)
    data = (folder / "data.py").read_text().replace('targets={"labels"', 'targets={"answers"')
    (folder / "data.py").write_text(data)
    cls = tiny_class(folder)
    from evaluators.kit.secrets import PUBLIC

    with pytest.raises(ConfigError) as err:
        cls.splits_for("selection", PUBLIC)
    assert str(err.value) == (
        f"{folder.resolve()}/data.py: selection(): split blobs-s0 has no target 'labels' for "
        "the metric accuracy"
    )
