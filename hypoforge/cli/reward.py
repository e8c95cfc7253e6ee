"""``hypoforge reward eval``: how well the reward model ranks hypotheses it has not seen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError, HypoforgeError
from hypoforge.cli.common import ConfigOpt, fail, load_settings, out

app = typer.Typer(
    rich_markup_mode="markdown",
    no_args_is_help=True,
    help="Measure how well the reward model picks the hypotheses that win.",
)


def _examples(target: Path | None, whole: bool, config: Path | None, task: str) -> tuple[str, list]:
    """(what was read, examples) from a campaign folder, an archive folder or the home archive."""
    from evaluators.novelty import NoveltyArchive
    from hypoforge import campaign

    settings = load_settings(config)
    if whole == (target is not None):
        raise ConfigError("give a campaign or archive folder, or --archive (not both)")
    if target is None:
        path = settings.home / "archive"
        return f"archive {path}", NoveltyArchive(path).examples(task)
    if (target / "chroma.sqlite3").exists():
        return f"archive {target}", NoveltyArchive(target).examples(task)
    info = campaign.load(target)
    path = settings.home / "archive"
    return f"campaign {info.id} in {path}", NoveltyArchive(path).examples(task, info.id)


@app.command("eval")
def reward_eval(
    folder: Annotated[
        Path | None, typer.Argument(help="Campaign folder, or a Chroma archive folder.")
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="Use the whole archive under the home folder.")
    ] = False,
    model: Annotated[str, typer.Option(help="gp, ridge or all.")] = "all",
    task: Annotated[str, typer.Option(help="Research task.")] = "activation",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write the discovery curves to this PNG file.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Measure how well the reward model predicts which archived hypotheses win.

    Kendall's tau, Spearman, Pearson and discovery AUC against random picks on held-out
    splits (the newest 30% by time; each generator in turn). Needs only the archive."""
    from rich.table import Table

    from evaluators.reward import MIN_EXAMPLES, MODELS

    try:
        kinds = list(MODELS) if model == "all" else [model]
        if any(k not in MODELS for k in kinds):
            raise ConfigError(f"unknown reward model {model!r}; choose gp, ridge or all")
        where, examples = _examples(folder, archive, config, task)
        version, home = _harness_version(task), load_settings(config).home
        labelled = [e for e in examples if e.target is not None]
        generators = ", ".join(sorted({e.generator for e in examples})) or "-"
        summary = (
            f"{where}: {len(examples)} hypotheses, {len(labelled)} labelled, "
            f"generators: {generators}"
        )
        if not as_json:
            out.print(summary, soft_wrap=True)
        results, curves = _measure(examples, kinds)
        if not any(results.values()):
            raise ConfigError(
                f"too few measured hypotheses to evaluate: need {MIN_EXAMPLES} to train and 10 "
                "held out (fill an archive with benchmarks/reward_model.py or a campaign)"
            )
    except HypoforgeError as exc:
        raise fail(exc) from None
    if plot is not None:
        _plot_curves(plot, curves)
    if as_json:
        print(json.dumps({"examples": len(examples), "labelled": len(labelled), **results}))
        return
    table = Table(title="reward model on held-out hypotheses", title_justify="left")
    for col in ("model", "held out", "n", "Kendall tau", "Spearman", "Pearson", "AUC/random"):
        table.add_column(col)
    for kind, splits in results.items():
        for split, m in splits.items():
            table.add_row(
                kind,
                split,
                f"{m['n']:.0f}",
                f"{m['kendall_tau']:.3f}",
                f"{m['spearman']:.3f}",
                f"{m['pearson']:.3f}",
                f"{m['discovery_auc_vs_random']:.2f}",
            )
    out.print(table)
    if version is not None:
        _print_fidelity(home, task, version)


def _measure(examples: list, kinds: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per reward model kind, its figures on each held-out split and its discovery curves
    (``evaluators.reward.held_out``); the figures are empty for too few examples."""
    from evaluators.reward import held_out

    curves: dict[str, dict] = {k: {} for k in kinds}
    return {k: held_out(examples, k, curves=curves[k]) for k in kinds}, curves


def _harness_version(task: str) -> str | None:
    """The task's current harness version, from its evaluator class (no sandbox needed); None
    for a task whose evaluator has none."""
    from evaluators import registry

    plugin = registry.get(task)
    version = getattr(plugin.evaluator_class(), "harness_version", None)
    return None if version is None else str(version())


def _print_fidelity(home: Path, task: str, version: str) -> None:
    """How far the win rates the reward model learns from can be trusted, where measured."""
    from evaluators import fidelity

    stored = fidelity.load(home, task, version)
    if stored is None:
        out.print(
            f"no fidelity measured for this harness version: run `hypoforge fidelity {task}`",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print("fidelity of screening (rank agreement of win rates, 95% bootstrap intervals):")
    for line in fidelity.summary_lines(stored):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _plot_curves(path: Path, curves: dict[str, dict]) -> None:
    """Discovery curves (share of the true top 10% found vs hypotheses examined), per model and
    held-out split, against the random-order diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for kind, splits in curves.items():
        for split, curve in splits.items():
            xs = [(i + 1) / len(curve) for i in range(len(curve))]
            ax.plot(xs, curve, label=f"{kind}: {split}")
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="random order")
    ax.set_xlabel("share of held-out hypotheses examined, best predicted first")
    ax.set_ylabel("share of the true top 10% found")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.print(f"discovery curves: {path}")
