"""Reproduction bundles: every scored hypothesis can be re-run from what its campaign recorded
and must give the same accuracies, bit for bit.

A bundle is built from the campaign folder alone: the code (``hypotheses/<id>.py``, checked
against the ledger's sha256), and from the ledger's result on the highest rung the hypothesis
reached: task, harness version, image, budget, split set and split names (each name carries its
seed), the data secret's id, the hashes of the arrays the sandbox was fed and the accuracies.
``reproduce`` runs the code again as a fresh sandbox job (never the ledger's exactly-once cache:
no ledger is opened) and compares accuracy by accuracy. What makes a re-run identical is all in
the bundle: the harness (runner, budgets, datasets: its version), the data (drawn from the
installation's secret: its id and the arrays' hashes), the image, and the runner's seeds (fixed
per split: the network's init and the data order; one thread). The property checks'
inputs are drawn afresh for every job, but they only decide pass or fail, never an accuracy.
A harness, image or data that differs from the bundle's is reported beside the comparison.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from core.errors import ConfigError, InfraError
from core.records import EvalReport, HypothesisRow, Outcome
from hypoforge import campaign
from store.ledger import Ledger


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bundle(_Record):
    """What re-running one scored hypothesis takes, and what it must give."""

    campaign: str
    hypothesis: str
    idea: str
    task: str
    code: str
    code_sha: str  # sha256 of ``code``, as the ledger recorded it
    harness_version: str
    image: str | None  # tag@id of the image that ran it
    budget: str  # the highest rung it was scored on: what is re-run
    rungs: dict[str, float]  # every rung's win rate, from the ledger
    split_set: str
    splits_id: str | None
    splits: dict[str, int]  # split name -> its seed ("<dataset>-s<seed>")
    data_secret: str | None  # id of the secret the data came from, never the key
    dataset_hashes: dict[str, str]  # split name -> sha256 of the arrays fed to the sandbox
    accuracies: dict[str, float]  # dataset -> the candidate's mean accuracy over seeds
    cells: dict[str, float]  # split name -> accuracy
    win_rate: float | None


class Comparison(_Record):
    """One accuracy, as recorded and as reproduced (None: the re-run gave none)."""

    name: str
    recorded: float
    reproduced: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def equal(self) -> bool:
        return self.recorded == self.reproduced


class Reproduction(_Record):
    """The re-run of a bundle, compared with what the bundle recorded."""

    hypothesis: str
    budget: str
    status: Outcome  # the re-run's sandbox outcome
    reason: str
    datasets: list[Comparison]
    cells: list[Comparison]
    win_rate: tuple[float | None, float | None]  # (recorded, reproduced)
    environment: list[str]  # harness, image or data that differ from the bundle's

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Literal["reproduced", "mismatch"]:
        same = all(c.equal for c in (*self.datasets, *self.cells))
        return "reproduced" if self.status is Outcome.OK and same else "mismatch"


def bundle(folder: Path, hypothesis_id: str) -> Bundle:
    """The bundle of ``hypothesis_id`` from the campaign in ``folder`` (its records only)."""
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        row = ledger.hypothesis(info.id, hypothesis_id)
        if row is None:
            raise _unknown(folder, hypothesis_id, [r.id for r in ledger.hypotheses(info.id)])
        report = _highest(ledger.results(info.id), row, info.budgets.ladder)
        code = _code(folder, row)
    finally:
        ledger.close()
    return Bundle(
        campaign=info.id,
        hypothesis=row.id,
        idea=row.idea,
        task=info.task,
        code=code,
        code_sha=_sha(code),
        harness_version=report.harness_version,
        image=report.image,
        budget=report.budget,
        rungs=row.rungs,
        split_set=report.split_set or info.budgets.splits,
        splits_id=report.splits_id,
        splits={name: int(name.rsplit("-s", 1)[1]) for name in report.cells},
        data_secret=report.data_secret,
        dataset_hashes=report.data_hashes,
        accuracies={d: s.candidate for d, s in report.per_dataset.items()},
        cells=report.cells,
        win_rate=report.win_rate,
    )


def _unknown(folder: Path, hypothesis_id: str, ids: list[str]) -> ConfigError:
    known = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return ConfigError(f"no hypothesis {hypothesis_id!r} in {folder} (known: {known or 'none'})")


def _code(folder: Path, row: HypothesisRow) -> str:
    path = folder / "hypotheses" / f"{row.id}.py"
    try:
        code = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{row.id} has no code file ({path} is missing)") from None
    if row.code_sha is not None and _sha(code) != row.code_sha:
        raise ConfigError(
            f"{path} changed after it was recorded: sha256 {_sha(code)[:12]}, "
            f"the ledger's {row.code_sha[:12]}"
        )
    return code


def _highest(
    results: list[tuple[str, str, EvalReport]], row: HypothesisRow, ladder: tuple[str, ...]
) -> EvalReport:
    """The row's code's latest OK result on the highest rung of the ladder (not the
    confirmation's held-out splits: those are a kept hypothesis's second opinion)."""
    scored = [
        r
        for _, _, r in results
        if r.code_sha == row.code_sha
        and r.status is Outcome.OK
        and r.split_set != "confirmation"
        and r.budget in ladder
    ]
    if not scored:
        raise ConfigError(
            f"{row.id} was never scored (stage {row.stage}, outcome {row.outcome or 'none'}): "
            "nothing to reproduce"
        )
    # ``results`` come oldest first and ``max`` keeps the first of equals: reversed, the latest.
    return max(reversed(scored), key=lambda r: ladder.index(r.budget))


def write_bundle(folder: Path, hypothesis_id: str) -> Path:
    """Write ``DIR/bundles/<id>/bundle.json`` (and the code beside it as ``code.py``)."""
    found = bundle(folder, hypothesis_id)
    where = folder / "bundles" / found.hypothesis
    where.mkdir(parents=True, exist_ok=True)
    (where / "code.py").write_text(found.code)
    path = where / "bundle.json"
    path.write_text(found.model_dump_json(indent=1))
    return path


def load_bundle(path: Path) -> Bundle:
    """A bundle written by ``write_bundle``; its code must still match its sha256."""
    try:
        found = Bundle.model_validate_json(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is damaged: {str(exc).splitlines()[0]}") from None
    if _sha(found.code) != found.code_sha:
        raise ConfigError(f"{path}: the code does not match its sha256")
    return found


def reproduce(found: Bundle, evaluator: Any) -> Reproduction:
    """Re-run ``found``'s code at its budget on its splits, as a fresh sandbox job, and compare.
    ``evaluator`` is the task's, on the bundle's split set; an infrastructure failure raises."""
    if evaluator.task != found.task:
        raise ConfigError(
            f"the bundle is of task {found.task!r}, the evaluator of {evaluator.task!r}"
        )
    names = sorted(s.name for s in evaluator.splits)
    if names != sorted(found.splits):
        raise ConfigError(
            f"the evaluator's splits ({', '.join(names)}) are not the bundle's "
            f"({', '.join(sorted(found.splits))})"
        )
    report = evaluator.evaluate(found.code, found.budget)
    if report.status is Outcome.INFRA_ERROR:
        raise InfraError(f"re-running {found.hypothesis}: {report.reason}")
    return compare(found, report)


def compare(found: Bundle, report: EvalReport) -> Reproduction:
    """``report`` (a fresh run of ``found``'s code) against what ``found`` recorded."""
    got = {d: s.candidate for d, s in report.per_dataset.items()}
    return Reproduction(
        hypothesis=found.hypothesis,
        budget=found.budget,
        status=report.status,
        reason=report.reason,
        datasets=[
            Comparison(name=d, recorded=v, reproduced=got.get(d))
            for d, v in found.accuracies.items()
        ],
        cells=[
            Comparison(name=c, recorded=v, reproduced=report.cells.get(c))
            for c, v in found.cells.items()
        ],
        win_rate=(found.win_rate, report.win_rate),
        environment=_environment(found, report),
    )


def _environment(found: Bundle, report: EvalReport) -> list[str]:
    """What the re-run ran on that differs from the bundle's: harness, image, data."""
    out = []
    if report.harness_version != found.harness_version:
        out.append(f"harness version {found.harness_version} -> {report.harness_version}")
    if report.image is not None and _image_id(report.image) != _image_id(found.image):
        out.append(f"image {found.image} -> {report.image}")
    if report.data_secret != found.data_secret:
        out.append(f"data secret {found.data_secret} -> {report.data_secret}")
    if not found.dataset_hashes:
        out.append("no dataset hashes recorded with the result (scored before they were)")
    changed = [
        name
        for name, sha in found.dataset_hashes.items()
        if report.status is Outcome.OK and report.data_hashes.get(name) != sha
    ]
    if changed:
        out.append(f"dataset hashes of {', '.join(changed)}")
    return out


def write_reproduction(folder: Path, result: Reproduction) -> Path:
    """Keep the outcome beside its bundle: ``DIR/bundles/<id>/reproduction.json``."""
    path = folder / "bundles" / result.hypothesis / "reproduction.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(indent=1))
    return path


def _image_id(ref: str | None) -> str | None:
    return None if ref is None else ref.rsplit("@", 1)[-1]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
