"""Fidelity of screening end to end: hypotheses sampled from a real Chroma archive, trained in the
real sandbox at two budgets and on fresh seeds, ranked on the host."""

import io
import math

from rich.console import Console

from evaluators import fidelity, registry
from evaluators.kit import datasets
from evaluators.kit.secrets import installation_secret
from evaluators.novelty import ArchiveEntry, NoveltyArchive

HEAD = "import torch\nimport torch.nn.functional as F\n\n\ndef activation(x):\n    return "
HYPOTHESES = {
    "relu": "torch.relu(x)",
    "tanh": "torch.tanh(x)",
    "swish": "x * torch.sigmoid(x)",
    "softplus": "F.softplus(x)",
}


def test_fidelity_on_a_small_real_archive_prints_figures_with_cis(
    docker_sandbox, settings, tmp_path
):
    archive = NoveltyArchive(tmp_path / "archive")
    for name, body in HYPOTHESES.items():
        archive.add(
            ArchiveEntry(
                id=f"c1/{name}",
                task="activation",
                campaign="c1",
                generator="test",
                idea=name,
                code=f"{HEAD}{body}\n",
                outcome="ok",
                win_rate=0.5,
            )
        )
    sources = fidelity.sample_archive(tmp_path / "archive", "activation", 20, seed=0)
    assert sorted(sources) == sorted(f"c1/{name}" for name in HYPOTHESES)
    home = settings.home
    s = installation_secret(home)
    evaluator = registry.get("activation").make_evaluator(
        docker_sandbox,
        home,
        settings.sandbox.limits,
        splits=[datasets.split("iris", 0, secret=s), datasets.split("moons", 0, secret=s)],
        confirm_splits=[datasets.split("iris", 3, secret=s), datasets.split("moons", 3, secret=s)],
        wall_seconds=120,
    )
    steps: list[str] = []
    result = fidelity.measure(evaluator, sources, ("one-pass", "short"), notify=steps.append)
    assert result["dropped"] == {}, result["dropped"]
    assert result["n"] == 4 and steps[-1] == "12/12 c1/tanh at short"
    assert result["splits_id"]["selection"] != result["splits_id"]["confirmation"]
    assert list(result["agreement"]) == ["one-pass -> short", "seed sets"]

    console = Console(record=True, width=200, file=io.StringIO())
    console.print(fidelity.render(result))
    text = console.export_text()
    lines = "\n".join(fidelity.summary_lines(result))
    for a in result["agreement"].values():
        assert a["n"] == 4
        for name in ("kendall", "spearman"):
            value, (lo, hi) = a[name], a[f"{name}_ci"]
            for v in (value, lo, hi):
                assert v is not None and math.isfinite(v) and -1 <= v <= 1, a
            assert lo <= value + 1e-9 and value <= hi + 1e-9, a
            shown = f"{value:.2f} ({lo:.2f} to {hi:.2f})"
            assert shown in text and shown in lines

    path = fidelity.save(home, result)
    assert fidelity.load(home, "activation", evaluator.version) == result
    assert path.name == f"activation-{evaluator.version}.json"
