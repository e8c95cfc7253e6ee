import json

import pytest
from typer.testing import CliRunner

from core.errors import SandboxUnavailable
from core.records import Outcome
from hypoforge import cli
from hypoforge.cli import common
from tests.fakes import SMALL_SPLITS, FakeSandbox, on_splits

runner = CliRunner()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    sandbox = FakeSandbox()
    monkeypatch.setattr(common, "make_sandbox", lambda settings: sandbox)
    monkeypatch.setattr(common, "make_evaluator", on_splits(SMALL_SPLITS))
    return sandbox


def write(tmp_path, text):
    path = tmp_path / "hyp.py"
    path.write_text(text)
    return path


RELU = "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"


def test_eval_json_has_the_documented_keys(fake, tmp_path):
    result = runner.invoke(cli.app, ["eval", str(write(tmp_path, RELU)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "status",
        "reason",
        "win_rate",
        "win_rate_ci",
        "per_dataset",
        "image",
        "wall_seconds",
    ):
        assert key in data
    assert data["status"] == "ok"
    assert data["win_rate"] == 1.0
    assert data["image"] == "fake:1@sha256:0123456789abcdef"
    assert fake.closed


def test_eval_table_shows_datasets_and_baselines(fake, tmp_path):
    result = runner.invoke(cli.app, ["eval", str(write(tmp_path, RELU))], env={"COLUMNS": "150"})
    assert result.exit_code == 0
    for word in ("iris", "wine", "moons", "relu", "gelu", "silu", "tanh", "win rate 1.000"):
        assert word in result.stdout


def test_invalid_hypothesis_is_an_outcome_not_an_error(fake, tmp_path):
    bad = write(tmp_path, "import os\n\ndef activation(x):\n    return x\n")
    result = runner.invoke(cli.app, ["eval", str(bad), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == "invalid"
    assert data["reason"] == (
        "line 1: import of os is not allowed "
        "(allowed: math, torch, torch.nn, torch.nn.functional, torch.special)"
    )


def test_missing_file_is_a_usage_error(fake, tmp_path):
    result = runner.invoke(cli.app, ["eval", str(tmp_path / "nope.py")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    assert "No such file or directory" in result.stderr


def test_unknown_budget_is_a_usage_error(fake, tmp_path):
    result = runner.invoke(cli.app, ["eval", str(write(tmp_path, RELU)), "--budget", "huge"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "hypoforge: error: unknown budget 'huge'; choose one of: one-pass, short, full"
    )


def test_dead_docker_daemon_is_one_line_and_exit_3(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    dead = FakeSandbox(preflight_error=SandboxUnavailable("Docker engine not reachable: refused"))
    monkeypatch.setattr(common, "make_sandbox", lambda settings: dead)
    result = runner.invoke(cli.app, ["eval", str(write(tmp_path, RELU))])
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        "hypoforge: infrastructure error: Docker engine not reachable: refused"
    )


def test_infra_outcome_mid_run_exits_3(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    sb = FakeSandbox(outcome=Outcome.INFRA_ERROR)
    monkeypatch.setattr(common, "make_sandbox", lambda settings: sb)
    monkeypatch.setattr(common, "make_evaluator", on_splits(SMALL_SPLITS))
    result = runner.invoke(cli.app, ["eval", str(write(tmp_path, RELU)), "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["status"] == "infra_error"


def test_bad_config_is_exit_2(monkeypatch, tmp_path):
    cfg = tmp_path / "hf.toml"
    cfg.write_text("[sandbox.limits]\ncpus = -1\n")
    result = runner.invoke(cli.app, ["sandbox", "check", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "sandbox.limits.cpus: Input should be greater than 0" in result.stderr


@pytest.mark.slow
def test_doctor_reports_each_check_and_fails_on_a_dead_llm(fake, tmp_path):
    result = runner.invoke(
        cli.app, ["doctor", "--llm", "http://127.0.0.1:9/v1"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 3
    assert "Docker engine and sandbox image" in result.stdout
    assert "fake:1@sha256:0123456789abcdef" in result.stdout
    assert "FAIL LLM endpoint http://127.0.0.1:9/v1 not reachable after 3 s" in result.stdout


def test_status_of_a_missing_campaign_is_a_usage_error(tmp_path):
    result = runner.invoke(cli.app, ["status", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"hypoforge: error: no campaign in {tmp_path} (no campaign.json)"
    )


def test_reward_eval_needs_exactly_one_source(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    res = runner.invoke(cli.app, ["reward", "eval"])
    assert res.exit_code == 2
    assert "give a campaign or archive folder, or --archive" in res.output
    res = runner.invoke(cli.app, ["reward", "eval", "--model", "svm", "--archive"])
    assert res.exit_code == 2 and "unknown reward model 'svm'" in res.output


def test_reward_eval_on_an_empty_archive_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    res = runner.invoke(cli.app, ["reward", "eval", "--archive"])
    assert res.exit_code == 2
    assert "0 hypotheses" in res.output
    assert "too few measured hypotheses" in res.output


def test_the_top_level_help_says_what_hypoforge_does_and_where_to_start():
    result = runner.invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Automated machine-learning research: language-model agents propose" in text
    # Markdown help: backticks become code spans and a paragraph is rewrapped to the terminal,
    # never broken where the source line ended.
    assert "Start with hypoforge doctor (is this machine ready?), then hypoforge run (a" in text
    assert "Exit codes: 0 done, 1 a self-test found a weakness" in text
    narrow = runner.invoke(cli.app, ["--help"], env={"COLUMNS": "80"}).output
    assert "(a campaign; it\n" not in narrow


def _commands(group, path=()):
    """(command line, click command) for every command, those of sub-groups included."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_command_has_a_plain_one_line_help():
    import typer.main

    found = dict(_commands(typer.main.get_command(cli.app)))
    assert {"run", "eval", "doctor", "sandbox build", "tasks list", "reward eval"} <= set(found)
    for line, command in found.items():
        first = (command.help or "").split("\n\n")[0]
        assert first and "\n" not in first, f"{line}: the first paragraph is one line"
        assert first.endswith(".") and len(first) <= 92, f"{line}: {first!r}"
        assert "``" not in command.help, f"{line}: code markup is for docstrings, not users"
    result = runner.invoke(cli.app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "Needs Docker, the sandbox image and a language model" in " ".join(result.output.split())


def test_executor_flags_replace_the_settings_executor(tmp_path):
    from core.errors import ConfigError
    from core.settings import DockerExecutor, RayExecutor, Settings

    here = Settings(home=tmp_path)
    cluster = Settings(home=tmp_path, executor=RayExecutor(ray_address="ray://head:10001"))
    assert common.with_executor(here, None, None) is here
    assert common.with_executor(here, "ray", None).executor == RayExecutor(ray_address="auto")
    assert common.with_executor(here, "local", None).executor == DockerExecutor(type="local")
    assert common.with_executor(cluster, "docker", None).executor == DockerExecutor()
    assert common.with_executor(cluster, "ray", None).executor == cluster.executor  # kept
    moved = common.with_executor(cluster, None, "auto")
    assert moved.executor == RayExecutor(ray_address="auto")
    with pytest.raises(ConfigError, match="--ray-address: only with --executor ray"):
        common.with_executor(here, None, "auto")
    with pytest.raises(ConfigError, match="--executor: 'docker' \\(this machine\\) or 'ray'"):
        common.with_executor(here, "k8s", None)


def test_an_unknown_executor_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    result = runner.invoke(cli.app, ["doctor", "--executor", "k8s"])
    assert result.exit_code == 2
    assert "hypoforge: error: --executor: 'docker' (this machine) or 'ray', not 'k8s'" in (
        result.stderr
    )


@pytest.mark.slow
def test_a_search_campaign_runs_from_the_command_line_without_a_language_model(
    fake, monkeypatch, tmp_path
):
    from hypoforge.cli import campaign as campaign_cli

    def no_endpoint(settings, folder):
        raise AssertionError("the search generator opened an LLM endpoint")

    monkeypatch.setattr(campaign_cli, "open_llm", no_endpoint)
    cfg = tmp_path / "hf.toml"
    cfg.write_text("[campaign]\nfull_top_k = 0\nconfirm = false\n")  # no held-out splits here
    folder = tmp_path / "camp"
    args = ["run", "--generator", "search", "--proposals", "1", "--batch", "1", "--workers", "1"]
    args += ["--campaign", str(folder), "--config", str(cfg)]
    result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "stopped: proposal budget reached (1/1)" in result.output
    assert (tmp_path / "home" / "archive").is_dir()  # the archive the campaign fed
