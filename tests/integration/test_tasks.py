"""The example plugin task (examples/tasks/curvefit) on the real sandbox: `hypoforge eval --task`
and a short campaign, with nothing outside its folder changed."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from typer.testing import CliRunner

from core.settings import CampaignSettings
from hypoforge import campaign, cli
from store.ledger import Ledger

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"


def test_eval_of_a_plugin_task_in_the_real_sandbox(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(EXAMPLES))
    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    good = tmp_path / "good.py"
    good.write_text("def f(x):\n    return math.tanh(2 * x) + 0.1 * x\n")
    res = CliRunner().invoke(cli.app, ["eval", "--task", "curvefit", str(good), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert (report["status"], report["win_rate"], report["task"]) == ("ok", 1.0, "curvefit")
    assert report["image"].startswith("hypoforge-sandbox:")
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    return 5.0\n")
    res = CliRunner().invoke(cli.app, ["eval", "--task", "curvefit", str(bad), "--json"])
    assert json.loads(res.output)["win_rate"] == 0.0
    crash = tmp_path / "crash.py"
    crash.write_text("def f(x):\n    return 1 / (x - x)\n")
    res = CliRunner().invoke(cli.app, ["eval", "--task", "curvefit", str(crash), "--json"])
    assert json.loads(res.output)["status"] == "hyp_error"


def test_short_campaign_on_a_plugin_task(monkeypatch, docker_sandbox, settings, tmp_path):
    monkeypatch.setenv("HYPOFORGE_TASKS", str(EXAMPLES))
    from evaluators import registry

    plugin = registry.get("curvefit")
    ev = plugin.make_evaluator(docker_sandbox, settings.home, settings.sandbox.limits)
    folder = tmp_path / "camp"
    info = campaign.create(folder, "curvefit", CampaignSettings(proposals=2, batch=2))
    replies = [
        "IDEA: a steep tanh\n```python\ndef f(x):\n    return math.tanh(2 * x)\n```",
        "IDEA: a falling line\n```python\ndef f(x):\n    return -x\n```",
    ]
    run = '{"decision": "run", "reasons": "ok", "p_win": 0.5}'
    models = {
        "proposer": FakeListChatModel(responses=replies),
        "critic": FakeListChatModel(responses=[run]),
        "coder": FakeListChatModel(responses=[replies[0]]),
        "analyst": FakeListChatModel(responses=["Summary."]),
    }
    state = campaign.run(folder, campaign.Services(ev, models, retries=0))
    assert state["stop"] == "proposal budget reached (2/2)"
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    # The ladder: both go on to the short rung, the better of them to the full budget.
    assert [r.stage for r in rows] == ["evaluated", "evaluated"]
    assert sum(r.full_win_rate is not None for r in rows) == 1
    assert rows[0].screen_win_rate == 1.0 and rows[1].screen_win_rate == 0.0
    # No probe (the task has none): 2 screens, 2 short runs, 1 full.
    assert ledger.usage(info.id)[1] == 5


def test_novelty_names_a_rewritten_published_function_by_its_probe(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    code = tmp_path / "gate.py"
    code.write_text(
        "import torch\n\ndef activation(x):\n    return x * torch.tanh(torch.log1p(torch.exp(x)))\n"
    )
    res = CliRunner().invoke(cli.app, ["novelty", "a soft gate", "--code", str(code), "--json"])
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert found["by_behaviour"]["match"] == "same as Mish"
    assert "arXiv:1908.08681" in found["by_behaviour"]["citation"]
    new = tmp_path / "new.py"
    new.write_text(
        "import torch\n\ndef activation(x):\n"
        "    return 0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)\n"
    )
    res = CliRunner().invoke(cli.app, ["novelty", "a wave gate", "--code", str(new), "--json"])
    assert json.loads(res.stdout)["by_behaviour"]["match"] is None
