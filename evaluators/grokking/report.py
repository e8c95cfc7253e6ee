"""The grokking task's part of the campaign report: held-out accuracy over training.

``grokking.png``: for each leader, the held-out accuracy at each of the ``CHECKPOINTS + 1``
checkpoints (evenly spaced over training), averaged over the splits it was scored on; the task's
score is the area under this curve. It is computed here, on the host, as the harness scores it
(``harness.curve``): the predictions ``candidate.<split>.labels.npy`` the sandbox wrote into the
attempt's out folder (``EvalReport.artifacts``; untrusted, read through ``sandbox.artifacts`` and
shape-checked) against the held-out answers, which never leave the host: the split is rebuilt
from the installation's data secret (``<home>/secret.key``; ``data.split``), only when that secret
is the one the result records.

The template baseline: its curve where its attempt folder was kept (``keep = "all"``:
``<home>/attempts/grokking/b<harness>-<budget>-<n>/out/template.<split>.labels.npy``); otherwise
only its area is known (the cached baseline scores, in ``EvalReport.per_dataset``), drawn as a
level line: a curve with the same mean as that line has the template's score.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.records import EvalReport, HypothesisRow
from core.text import clean
from evaluators.kit.secrets import DataSecret, installation_secret

SPLIT = re.compile(r"add(\d+)-s(\d+)")
BASELINE = "template"


class GrokkingReport:
    """Report hooks of the grokking task (``evaluators.contract.ReportHooks``)."""

    def figures(
        self,
        out_dir: Path,
        leaders: list[HypothesisRow],
        reports: dict[str, EvalReport],
        home: Path | None = None,
    ) -> list[tuple[str, str]]:
        if home is None or not (home / "secret.key").exists():
            return []  # no held-out answers to score the saved predictions against
        secret = installation_secret(home)
        curves: dict[str, np.ndarray] = {}
        template: np.ndarray | None = None
        areas: list[float] = []
        for row in leaders:
            rep = reports[row.id]
            if not rep.artifacts or (rep.data_secret or secret.id) != secret.id:
                continue
            found = leader_curve(Path(rep.artifacts), "candidate", rep.cells, secret)
            if found is None:
                continue
            curves[f"{row.id}: {clean(row.idea)[:40]}"] = found
            if template is None:
                template = baseline_curve(home, rep, secret)
            areas += [
                s.baselines[BASELINE] for s in rep.per_dataset.values() if BASELINE in s.baselines
            ]
        if not curves:
            return []
        plot(out_dir / "grokking.png", curves, template, float(np.mean(areas)) if areas else None)
        how = "curve" if template is not None else "area, a level line: its curve is not kept"
        return [("grokking.png", f"held-out accuracy over training, against the template's {how}")]


def split_answers(name: str, secret: DataSecret) -> np.ndarray | None:
    """The held-out answers of split ``name`` (``add<p>-s<seed>``), rebuilt from ``secret``."""
    from evaluators.grokking import data

    match = SPLIT.fullmatch(name)
    if match is None:
        return None
    return data.split(int(match[1]), int(match[2]), secret=secret).y_test


def _attempt(out_dir: Path) -> int:
    """The attempt number of ``.../<key>-<n>/out`` (-1 when the folder is not one of ours)."""
    tail = out_dir.parent.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def curves_of(out_dir: Path, name: str, splits: list[str], secret: DataSecret) -> list[np.ndarray]:
    """Held-out accuracy per checkpoint of ``name``'s predictions on each of ``splits`` that has
    well-formed predictions in ``out_dir`` (integers, ``[CHECKPOINTS + 1, n_test]``)."""
    from evaluators.grokking.harness import CHECKPOINTS, curve
    from evaluators.kit.scoring import MAX_PREDICTIONS_BYTES
    from sandbox.artifacts import ArtifactError, read_npy

    out = []
    for split in splits:
        answers = split_answers(split, secret)
        if answers is None:
            continue
        try:
            guesses = read_npy(out_dir, f"{name}.{split}.labels.npy", MAX_PREDICTIONS_BYTES)
        except ArtifactError:
            continue
        if guesses.shape == (CHECKPOINTS + 1, len(answers)) and guesses.dtype.kind in "iu":
            out.append(curve(guesses, answers))
    return out


def _split_names(out_dir: Path, name: str, cells: dict[str, float]) -> list[str]:
    """The splits scored: the report's cells, else the prediction files' names."""
    if cells:
        return sorted(cells)
    found = (
        p.name.removeprefix(f"{name}.").removesuffix(".labels.npy")
        for p in out_dir.glob("*.labels.npy")
    )
    return sorted(s for s in found if SPLIT.fullmatch(s))


def leader_curve(
    out_dir: Path, name: str, cells: dict[str, float], secret: DataSecret
) -> np.ndarray | None:
    """The mean curve over the splits of one attempt, or None when none could be scored."""
    found = curves_of(out_dir, name, _split_names(out_dir, name, cells), secret)
    return np.mean(found, axis=0) if found else None


def baseline_curve(home: Path, rep: EvalReport, secret: DataSecret) -> np.ndarray | None:
    """The template's mean curve on the splits of ``rep``, from the newest kept baseline attempt
    of the same harness version and budget that has every one of them; None when none is kept."""
    root = home / "attempts" / "grokking"
    splits = sorted(rep.cells)
    if not splits:
        return None
    tries = sorted(
        root.glob(f"b{rep.harness_version}-{rep.budget}-*/out"),
        key=lambda out: (
            int(out.parent.name.rsplit("-", 1)[-1]) if out.parent.name[-1:].isdigit() else -1
        ),
        reverse=True,
    )
    for out_dir in tries:
        found = curves_of(out_dir, BASELINE, splits, secret)
        if len(found) == len(splits):
            return np.mean(found, axis=0)
    return None


def plot(
    path: Path, curves: dict[str, np.ndarray], template: np.ndarray | None, area: float | None
) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, y in curves.items():
        ax.plot(np.linspace(0, 1, len(y)), y, lw=2, label=label)
    if template is not None:
        x = np.linspace(0, 1, len(template))
        ax.plot(x, template, "--", color="black", lw=1, label="template (baseline)")
    elif area is not None:
        ax.axhline(area, ls="--", color="black", lw=1, label=f"template's area ({area:.3f})")
    ax.set_xlabel("fraction of training (checkpoints)")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("held-out accuracy over training (mean over splits)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
