"""Tasks are plugins: found by folder, listed, validated; the example task lives entirely in
examples/tasks/curvefit and needs no change anywhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from evaluators import registry
from evaluators.contract import Confirms, Grammars, Probes
from hypoforge import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "tasks"
SPEC = 'name = "bad"\nsummary = "x"\nslot = "g(x)"\nevaluator = "h:E"\n'
runner = CliRunner()


def test_builtin_and_plugin_folders_are_found(monkeypatch):
    builtin = {"activation", "diffusion2d", "grokking", "lm", "preprocess", "regularizer"}
    assert set(registry.tasks(env={})) == builtin
    found = registry.tasks(env={"HYPOFORGE_TASKS": str(EXAMPLES)})
    assert set(found) == {*builtin, "curvefit"}
    curve = found["curvefit"]
    assert (curve.function, curve.generator) == ("f", None)
    assert found["activation"].function == "activation"
    # A single task folder works as well as a folder of them.
    only = registry.tasks(env={"HYPOFORGE_TASKS": str(EXAMPLES / "curvefit")})
    assert "curvefit" in only


def test_plugin_evaluator_is_built_from_its_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(EXAMPLES))
    ev = registry.get("curvefit").make_evaluator(None, tmp_path, None)
    assert "hidden smooth curve" in ev.description
    assert ev.static_problem("def f(x):\n    return x\n") is None
    assert ev.static_problem("import os\ndef f(x):\n    return x\n").startswith("imports")
    with pytest.raises(ConfigError, match="no built-in generator"):
        registry.get("curvefit").make_generator(0)


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ('name = "bad"\nsummary = "x"\n', "slot: Field required"),
        (f'{SPEC}colour = "red"\n', "colour: unknown key"),
        (SPEC.replace('"h:E"', '"h"'), "evaluator: String should match pattern"),
        (SPEC.replace('"g(x)"', "3"), "slot: Input should be a valid string"),
        (f"{SPEC}generator = 1\n", "generator: Input should be a valid string"),
        (SPEC.replace('"bad"', '"Bad Task"'), "name: String should match pattern"),
        ("name = ", "not valid TOML"),
    ],
)
def test_malformed_task_specs_are_refused_with_the_file_and_key_named(tmp_path, toml, error):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "task.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        registry.tasks(env={"HYPOFORGE_TASKS": str(bad)})
    message = str(caught.value)
    assert message.startswith(f"{bad / 'task.toml'}: ") and error in message
    assert "\n" not in message


def test_a_plugins_evaluator_keeps_the_contract(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(EXAMPLES))
    for name, plugin in registry.tasks().items():
        ev = plugin.make_evaluator(
            None, tmp_path, None, **({} if name == "curvefit" else {"splits": []})
        )
        for member in ("description", "evaluate", "experiment_key", "static_problem", "behaviour"):
            assert hasattr(ev, member), (name, member)
        sandboxed = name != "curvefit"
        assert isinstance(ev, Confirms) is sandboxed and isinstance(ev, Grammars) is sandboxed
        assert isinstance(ev, Probes) is (name == "activation")


def test_tasks_list_and_task_options(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(EXAMPLES))
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    res = runner.invoke(cli.app, ["tasks", "list"])
    assert res.exit_code == 0
    assert "activation" in res.output and "curvefit" in res.output
    assert "f(x: float) -> float" in res.output
    res = runner.invoke(cli.app, ["run", "--task", "nosuch", "--campaign", str(tmp_path / "c")])
    assert res.exit_code == 2
    available = "available: activation, curvefit, diffusion2d, grokking"
    assert f"unknown task 'nosuch'; {available}" in res.output
    res = runner.invoke(
        cli.app,
        ["run", "--task", "curvefit", "--generator", "search", "--campaign", str(tmp_path / "c")],
    )
    assert res.exit_code == 2 and "has no built-in search generator" in res.output
    hyp = tmp_path / "h.py"
    hyp.write_text("def f(x):\n    return x\n")
    res = runner.invoke(cli.app, ["eval", "--task", "nosuch", str(hyp)])
    assert res.exit_code == 2 and "unknown task" in res.output


def test_prompt_overrides_come_from_the_task_folder():
    from agents.prompting import render

    text = render("proposer", EXAMPLES / "curvefit", mode="novel", best=[], failures=[],
                  predictions=[])  # fmt: skip
    assert text.startswith("Propose ONE formula f(x)")
    default = render("proposer", None, mode="novel", best=[], failures=[], predictions=[])
    assert "activation" not in default  # the defaults name no task; activation has its own
    own = render("proposer", registry.get("activation").folder, mode="novel", best=[],
                 failures=[], predictions=[])  # fmt: skip
    assert "activation function" in own


@pytest.mark.parametrize(
    ("task", "opening"),
    [
        ("preprocess", "Propose ONE new feature preprocessing function"),
        ("regularizer", "Propose ONE new regularizer"),
        ("grokking", "Propose ONE change to train.py"),
    ],
)
def test_builtin_tasks_bring_their_own_prompts(task, opening):
    from agents.prompting import render

    folder = registry.get(task).folder
    args = dict(mode="novel", best=[], failures=[], predictions=[])
    assert render("proposer", folder, **args).startswith(opening)
    coder = render("coder", folder, idea="an idea", code="", error="")
    function = registry.get(task).function
    assert ("<<<<<<< SEARCH" if function == "edits" else f"def {function}(") in coder
