"""The machinery a sandboxed task shares: attempt folders, jobs, cached baselines, scoring of
test-set logits on the host, win rates. Tasks subclass ``SandboxedEvaluator``.

Flow for one hypothesis: static check -> one sandbox job (the task's runner.py on every split) ->
host checks (the task's ``_problem``) -> host loads the test logits, rejects malformed or
non-finite ones, computes accuracy with test labels that never left the host -> win rate against
the cached baseline results. Nothing the hypothesis prints or writes is read as a score.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.errors import ConfigError, InfraError
from core.records import DatasetScore, EvalReport, Outcome
from core.settings import Limits
from evaluators import secrets as data_secrets
from evaluators.activation import budgets, datasets
from evaluators.activation.budgets import Budget, get_budget
from evaluators.activation.datasets import Split
from evaluators.secrets import DataSecret, installation_secret
from evaluators.static_check import StaticCheckError
from evaluators.winrate import Cell, win_rate
from sandbox.artifacts import ArtifactError, read_json, read_npy
from sandbox.base import Job, Mount, RunResult, Sandbox
from sandbox.removal import remove_tree

MAX_LOGITS_BYTES = 4 * 1024 * 1024
RUNNER_LOOP = Path(__file__).with_name("runner_loop.py")  # mounted beside every task's runner
MAX_STATUS_BYTES = 64 * 1024
# Campaigns run several jobs at once from worker threads (``graph.experiments``): attempt
# folders are claimed, data files written and baselines computed under these locks, so two
# threads never take one folder or run the baselines twice.
_FOLDERS = threading.Lock()
_BASELINES = threading.RLock()


@dataclass(frozen=True)
class Scored:
    outcome: Outcome
    reason: str
    accuracy: dict[Cell, float]
    flags: tuple[str, ...] = ()  # an OK result's caveats (e.g. over a parameter budget)


class SandboxedEvaluator:
    """Scores hypotheses of one task: one sandbox job per hypothesis (or per batch), test-set
    logits read back and scored on the host. A task subclasses it and sets the class attributes
    and ``static_problem``; ``_problem`` adds host-side checks of what the job wrote."""

    task: ClassVar[str]
    folder: ClassVar[Path]  # holds runner.py, description.md, baselines/<name>.py
    baseline_names: ClassVar[tuple[str, ...]]
    version_files: ClassVar[tuple[str, ...]] = ("runner.py", "harness.py")
    extra_code: ClassVar[dict[str, Path]] = {}  # more fixed code for /hf/code/<name>
    baseline_suffix: ClassVar[str] = ".py"  # baselines/<name><suffix> holds a baseline's source
    metric: ClassVar[str] = "test accuracy"  # what a cell's score is, in words

    def __init__(
        self,
        sandbox: Sandbox,
        home: Path,
        limits: Limits | None = None,
        splits: list[Split] | None = None,
        notify: Callable[[str], None] | None = None,
        wall_seconds: float | None = None,
        keep: str = "ok",
        split_set: str = "selection",
        confirm_splits: list[Split] | None = None,
    ) -> None:
        self.keep = keep  # attempt folders kept after scoring: "none", "ok" or "all"
        self.sandbox = sandbox
        self.notify = notify or (lambda stage: None)  # progress messages for a live display
        self.home = home
        self.limits = limits or Limits()
        self._secret: DataSecret | None = None  # loaded on first use (see ``secret``)
        if split_set not in self.split_sets:
            raise ConfigError(
                f"task {self.task!r} has no split set {split_set!r}; "
                f"choose one of: {', '.join(self.split_sets)}"
            )
        self.split_set = split_set
        self.splits = splits if splits is not None else self.splits_for(split_set, self.secret)
        # Held-out splits for ``confirmer``: the task's own, or those given (tests give small
        # ones). An evaluator on explicit ``splits`` without them has none to confirm on.
        self._confirm_splits = confirm_splits
        self._custom = splits is not None
        self.version = self.harness_version()
        self.wall_seconds = wall_seconds  # overrides the budget's limit (tests use short ones)
        # The secret ids are part of the identity: another installation's data is other data, so
        # caches, data files and experiment keys never mix results across secrets.
        names = ",".join(f"{s.name}@{s.secret_id}" for s in self.splits)
        self.splits_id = hashlib.sha256(names.encode()).hexdigest()[:8]
        # Recorded with each result: the secret(s) the scored splits came from (ids, not keys).
        self.data_secret = ",".join(sorted({s.secret_id for s in self.splits} - {""})) or None

    @property
    def secret(self) -> DataSecret:
        """The installation's data secret, ``home / "secret.key"`` (created on first use, so an
        evaluator given explicit splits writes nothing). It stays on the host: never mounted into
        a job, never logged; results record only its id."""
        if self._secret is None:
            self._secret = installation_secret(self.home)
        return self._secret

    # -- what a task defines ---------------------------------------------------------------------
    # Named sets of splits. ``selection``: what screening, the ladder and the reward model see.
    # ``confirmation``: held out from selection (fresh seeds with fresh samples and assignments,
    # held-out datasets, a variant of the fixed model); only a kept hypothesis is run there.
    # ``hard``: a configuration where test accuracy does not saturate, for calibration and for
    # campaigns where components must matter (``[campaign] splits = "hard"``).
    split_sets: ClassVar[tuple[str, ...]] = ("selection", "confirmation", "hard")

    @staticmethod
    def default_splits(secret: DataSecret) -> list[Split]:
        """The task's selection splits, drawn from the installation's ``secret``."""
        return datasets.all_splits(secret=secret)

    @classmethod
    def splits_for(cls, split_set: str, secret: DataSecret) -> list[Split]:
        """The splits of ``split_set``, drawn from ``secret``."""
        if split_set == "selection":
            return cls.default_splits(secret)
        if split_set == "confirmation":
            return datasets.confirmation_splits(secret=secret)
        return datasets.hard_splits(secret=secret)

    def confirmer(self) -> SandboxedEvaluator | None:
        """The evaluator of this task on its confirmation splits (same sandbox, home, limits);
        None for an evaluator on explicit splits that was given no held-out ones."""
        if self._custom and self._confirm_splits is None:
            return None
        return type(self)(
            self.sandbox,
            self.home,
            self.limits,
            splits=self._confirm_splits,
            notify=self.notify,
            wall_seconds=self.wall_seconds,
            keep=self.keep,
            split_set="confirmation",
        )

    @classmethod
    def harness_version(cls) -> str:
        """Hash of everything that defines a score: the task's runner and harness, the shared
        machinery, the datasets, the budgets and the baselines."""
        h = hashlib.sha256()
        for name in cls.version_files:
            h.update((cls.folder / name).read_bytes())
        shared = (
            Path(__file__),
            RUNNER_LOOP,
            Path(datasets.__file__),
            Path(budgets.__file__),
            Path(data_secrets.__file__),  # how the data is drawn from the secret
        )
        for path in (*shared, *cls.extra_code.values()):
            h.update(path.read_bytes())
        for name in cls.baseline_names:
            h.update(cls.baseline_source(name).encode())
        return h.hexdigest()[:12]

    @staticmethod
    def validate(source: str) -> None:
        """The task's static check: raises ``StaticCheckError`` with the reason."""
        raise NotImplementedError

    @classmethod
    def static_problem(cls, source: str) -> str | None:
        """Why the static check rejects ``source``, or None if it passes."""
        try:
            cls.validate(source)
        except StaticCheckError as exc:
            return str(exc)
        return None

    @classmethod
    def grammars(cls) -> dict[str, str]:
        """GBNF grammars that make even a tiny model's proposer and coder write valid code:
        ``grammars/proposal.gbnf`` and ``grammars/code.gbnf`` in the task folder, each followed by
        the folder's other grammar files (the rules they share). None: free text."""
        folder = cls.folder / "grammars"
        roles = {"proposer": "proposal.gbnf", "coder": "code.gbnf"}
        if not all((folder / f).exists() for f in roles.values()):
            return {}
        shared = [
            p.read_text() for p in sorted(folder.glob("*.gbnf")) if p.name not in roles.values()
        ]
        return {
            role: "\n".join([(folder / name).read_text(), *shared]) for role, name in roles.items()
        }

    @staticmethod
    def behaviour(report: EvalReport, name: str = "candidate") -> list[float] | None:
        """A behavioural fingerprint of the hypothesis, where the task defines one."""
        return None

    @classmethod
    def baseline_source(cls, name: str) -> str:
        return (cls.folder / "baselines" / f"{name}{cls.baseline_suffix}").read_text()

    def runnable(self, source: str) -> str:
        """What the container runs for a hypothesis's (checked) source: the source itself, or
        what the task makes of it (an edited template, say)."""
        return source

    def train_config(self, spec: Budget) -> dict:
        """What the runner is told about the budget (``job.json``'s ``train``)."""
        return spec.train_config()

    def _problem(self, out_dir: Path, name: str) -> str | None:
        """A host-side check of what the job wrote for ``name`` (None: nothing wrong)."""
        return None

    def result_extras(self, out_dir: Path, name: str) -> dict[str, Any]:
        """Task fields of ``name``'s report read from what its job wrote (activation: where
        training went, ``reach``). Total: untrusted files give nothing, never an error."""
        return {}

    def draw_checks(self, rng: np.random.Generator, splits: list[str], spec: Budget) -> dict:
        """The job's property checks, drawn from host randomness (``job.json``'s ``checks``):
        inputs and moments a hypothesis cannot recognise. None by default."""
        return {}

    # -- public ----------------------------------------------------------------------------------
    @property
    def description(self) -> str:
        """What the task asks for, in words, for the agents' prompts."""
        return (self.folder / "description.md").read_text().strip()

    def experiment_key(self, source: str, budget: str) -> str:
        """Identity of one experiment: same key, same result (used for exactly-once launches)."""
        code_sha = hashlib.sha256(source.encode()).hexdigest()
        parts = (self.task, code_sha, get_budget(budget).name, self.splits_id, self.version)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]

    def evaluate(
        self, source: str, budget: str = "one-pass", *, static_check: bool = True
    ) -> EvalReport:
        """Evaluate one hypothesis. ``static_check=False`` is for tests of the sandbox layer."""
        return self.evaluate_many({"candidate": source}, budget, static_check=static_check)[
            "candidate"
        ]

    def evaluate_many(
        self, sources: dict[str, str], budget: str = "one-pass", *, static_check: bool = True
    ) -> dict[str, EvalReport]:
        """Evaluate several hypotheses, each in a container of its own: nothing one of them does
        can change another's result (batches share only the baselines, which are ours)."""
        return {
            name: self._evaluate_alone(name, source, budget, static_check)
            for name, source in sources.items()
        }

    def _evaluate_alone(
        self, name: str, source: str, budget: str, static_check: bool
    ) -> EvalReport:
        start = time.monotonic()
        spec = get_budget(budget)
        problem = self.static_problem(source) if static_check else None
        if problem is not None:
            return self._report(source, spec, start, Outcome.INVALID, problem)
        job = self.make_job({name: source}, spec, f"a{_sha(source)[:12]}")
        self.notify(f"training on {len(self.splits)} splits in the sandbox ({spec.name})")
        result = self.sandbox.run(job)
        extra: dict[str, Any] = dict(
            image=result.image, log_tail=result.log_tail, artifacts=str(result.out_dir)
        )
        extra.update(self.result_extras(result.out_dir, name))  # before retire removes it
        scored = self.score_output(result, name)
        self.retire(result, keep=scored.outcome is Outcome.OK)
        if scored.outcome is not Outcome.OK:
            return self._report(source, spec, start, scored.outcome, scored.reason, **extra)
        baselines = self.baselines(spec)
        wr = win_rate(scored.accuracy, baselines)
        per_dataset = {
            d: DatasetScore(
                candidate=_mean(scored.accuracy, d),
                baselines={b: _mean(acc, d) for b, acc in baselines.items()},
                win_rate=wr.per_dataset[d],
            )
            for d in wr.per_dataset
        }
        return self._report(
            source,
            spec,
            start,
            Outcome.OK,
            "",
            win_rate=wr.value,
            win_rate_ci=wr.ci,
            comparisons=wr.comparisons,
            per_dataset=per_dataset,
            flags=scored.flags,
            cells={f"{d}-s{s}": v for (d, s), v in sorted(scored.accuracy.items())},
            cell_win_rates={f"{d}-s{s}": v for (d, s), v in wr.per_cell.items()},
            data_hashes=self.data_hashes,
            **extra,
        )

    def retire(self, result: RunResult, keep: bool) -> None:
        """Remove a scored attempt's folder unless the retention setting keeps it: ``all``, or
        ``ok`` (the default) for a result that reports and fingerprints may read again."""
        if self.keep == "all" or (self.keep == "ok" and keep):
            return
        remove_tree(result.out_dir.parent)  # never raises: what stays is logged

    def _report(
        self, source: str, spec: Budget, start: float, status: Outcome, reason: str, **extra: Any
    ) -> EvalReport:
        return EvalReport(
            task=self.task,
            budget=spec.name,
            harness_version=self.version,
            code_sha=_sha(source),
            status=status,
            reason=reason,
            wall_seconds=_since(start),
            data_secret=self.data_secret,
            split_set=self.split_set,
            splits_id=self.splits_id,
            **extra,
        )

    def baselines(self, spec: Budget) -> dict[str, dict[Cell, float]]:
        """Baseline test accuracies, computed once per harness, splits, budget and image."""
        with _BASELINES:  # the first thread computes them; the others wait and read the cache
            return self._baselines(spec)

    def _baselines(self, spec: Budget) -> dict[str, dict[Cell, float]]:
        image_id = self.sandbox.image_ref().rsplit("@", 1)[-1].removeprefix("sha256:")[:12]
        stem = f"{self.task}-{self.version}-{self.splits_id}-{spec.name}-{image_id}"
        cache = self.home / "baselines" / f"{stem}.json"
        if cache.exists():
            raw = json.loads(cache.read_text())
            return {b: {_cell(k): v for k, v in accs.items()} for b, accs in raw.items()}
        names = self.baseline_names
        sources = {b: self.baseline_source(b) for b in names}
        self.notify(f"computing baselines {', '.join(self.baseline_names)} (cached afterwards)")
        job = self.make_job(sources, spec, f"b{self.version}", n_candidates=len(sources))
        result = self.sandbox.run(job)
        out: dict[str, dict[Cell, float]] = {}
        for b in self.baseline_names:
            scored = self.score_output(result, b)
            if scored.outcome is not Outcome.OK:
                raise InfraError(f"baseline {b} failed ({scored.outcome}): {scored.reason}")
            out[b] = scored.accuracy
        self.retire(result, keep=False)
        cache.parent.mkdir(parents=True, exist_ok=True)
        raw_out = {b: {f"{d}-s{s}": v for (d, s), v in accs.items()} for b, accs in out.items()}
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(raw_out, indent=1))
        tmp.replace(cache)  # atomic: a crash never leaves half a cache
        return out

    # -- building and reading jobs ---------------------------------------------------------------
    def data_file(self, names: list[str] | None = None) -> Path:
        """The public arrays (no test labels) of the splits ``names`` (default: all of them),
        written once per harness version. A job is given the file of exactly the splits it runs
        (a probe: none), so its container holds no other split's rows."""
        every = [s.name for s in self.splits]
        names = every if names is None else names
        if unknown := sorted(set(names) - set(every)):
            raise ValueError(f"not a split of this evaluator: {', '.join(unknown)}")
        part = "" if names == every else "-" + _sha(",".join(names))[:8]
        path = self.home / "data" / f"{self.task}-{self.version}-{self.splits_id}{part}.npz"
        with _FOLDERS:
            if not path.exists():
                self._write_data(path, names)
        return path

    @cached_property
    def data_hashes(self) -> dict[str, str]:
        """sha256 of each split's arrays as the data file holds them (what the sandbox is fed),
        by split name: recorded with each result, so a reproduction on other data says so."""
        with np.load(self.data_file(), allow_pickle=False) as data:
            return {s.name: _arrays_sha({k: data[k] for k in s.public()}) for s in self.splits}

    def _write_data(self, path: Path, names: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for s in self.splits:
            if s.name in names:
                arrays.update(s.public())
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)

    def make_job(
        self,
        sources: dict[str, str],
        spec: Budget,
        tag: str,
        n_candidates: int = 1,
        splits: list[str] | None = None,
    ) -> Job:
        """Write a fresh attempt folder for ``sources`` and describe the sandbox job."""
        root = self.home / "attempts" / self.task
        with _FOLDERS:  # claim a fresh attempt folder (another thread may be claiming one)
            root.mkdir(parents=True, exist_ok=True)
            attempt = 0
            while (root / f"{tag}-{spec.name}-{attempt}").exists():
                attempt += 1
            key = f"{tag}-{spec.name}-{attempt}"
            in_dir = root / key / "in"
            (in_dir / "candidates").mkdir(parents=True)
        for name, src in sources.items():
            (in_dir / "candidates" / f"{name}.py").write_text(self.runnable(src))
        names = [s.name for s in self.splits] if splits is None else splits
        rng = np.random.default_rng(secrets.randbits(128))  # host randomness, fresh per job
        job_spec = {
            "candidates": list(sources),
            "splits": names,
            "train": self.train_config(spec),
            "checks": self.draw_checks(rng, names, spec),
        }
        (in_dir / "job.json").write_text(json.dumps(job_spec))
        wall = (self.wall_seconds or spec.wall_seconds) * n_candidates
        # Each hypothesis of a batch may write as many files as one alone (bytes stay capped).
        files = self.limits.output_files * n_candidates
        limits = self.limits.model_copy(update={"wall_seconds": wall, "output_files": files})
        return Job(
            key=key,
            command=["python3", "-B", "/hf/code/runner.py", "/hf/in", "/hf/data.npz", "/hf/out"],
            mounts=[
                Mount(source=self.folder / "runner.py", target="/hf/code/runner.py"),
                Mount(source=RUNNER_LOOP, target="/hf/code/runner_loop.py"),
                *(Mount(source=p, target=f"/hf/code/{n}") for n, p in self.extra_code.items()),
                Mount(source=self.data_file(names), target="/hf/data.npz"),
                Mount(source=in_dir, target="/hf/in"),
            ],
            out_dir=root / key / "out",
            limits=limits,
            env={"PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"},
            labels={"hypoforge.task": self.task},
        )

    def score_output(self, result: RunResult, name: str) -> Scored:
        """Turn one candidate's output files into an outcome and host-computed accuracies.
        Total: whatever the files hold, an outcome with a reason comes back, never an error."""
        try:
            return self._score_output(result, name)
        except (ValueError, TypeError, IndexError, ArithmeticError, KeyError) as exc:
            # Arrays that passed every reader and still break a host computation are the
            # hypothesis's doing: a malformed result, not a crash of the campaign.
            why = f"its output could not be checked: {type(exc).__name__}: {str(exc)[:300]}"
            return Scored(Outcome.INVALID_RESULT, why, {})

    def _score_output(self, result: RunResult, name: str) -> Scored:
        if result.outcome in (
            Outcome.INFRA_ERROR,
            Outcome.TIMEOUT,
            Outcome.OOM,
            Outcome.DISK_QUOTA,
        ):
            return Scored(result.outcome, result.reason, {})
        advisory = self._advisory(result.out_dir, name)
        problem = self._problem(result.out_dir, name)
        if problem is not None or advisory.get("stage") in ("load", "probe", "check"):
            why = problem or advisory.get("error") or "failed the property check"
            if problem and advisory.get("stage") == "load" and advisory.get("error"):
                # It never got to the check: say why, for the coder (advisory, not a score).
                why = f"{problem}; the runner could not load it: {advisory['error']}"
            return Scored(Outcome.INVALID, why, {})
        if result.outcome is Outcome.HYP_ERROR and advisory.get("stage") != "done":
            # In a batch, another hypothesis may have set the exit code: this one finished.
            why = advisory.get("error") or result.reason
            return Scored(Outcome.HYP_ERROR, str(why)[:500], {})
        return self._score_logits(result.out_dir, name)

    def _advisory(self, out_dir: Path, name: str) -> dict:
        """The runner's status for ``name``: error messages for humans, never scores."""
        try:
            status = read_json(out_dir, "status.json", MAX_STATUS_BYTES)
            entry = status.get(name, {}) if isinstance(status, dict) else {}
            return {k: str(v)[:1000] for k, v in entry.items()} if isinstance(entry, dict) else {}
        except ArtifactError:
            return {}

    def _score_logits(self, out_dir: Path, name: str) -> Scored:
        accuracy: dict[Cell, float] = {}
        for s in self.splits:
            try:
                logits = read_npy(out_dir, f"{name}.{s.name}.npy", MAX_LOGITS_BYTES)
            except ArtifactError as exc:
                return Scored(Outcome.INVALID_RESULT, str(exc), {})
            want = (len(s.y_test), s.n_classes)
            if logits.shape != want or logits.dtype.kind != "f":
                got = f"{logits.dtype}{list(logits.shape)}"
                why = f"{s.name}: logits {got}, expected float{list(want)}"
                return Scored(Outcome.INVALID_RESULT, why, {})
            if not np.isfinite(logits).all():
                return Scored(Outcome.NONFINITE, f"{s.name}: non-finite predictions", {})
            dataset, seed = _cell(s.name)
            accuracy[(dataset, seed)] = float((logits.argmax(axis=1) == s.y_test).mean())
        return Scored(Outcome.OK, "", accuracy)


def job_checks(out_dir: Path) -> dict:
    """The checks the host drew for the job whose output folder is ``out_dir`` (read back from
    the host's own ``job.json``, which the container saw read-only)."""
    try:
        spec = json.loads((out_dir.parent / "in" / "job.json").read_text())
    except (OSError, ValueError):
        return {}  # removed by the retention setting, or not a job of ours
    checks = spec.get("checks") if isinstance(spec, dict) else None
    return checks if isinstance(checks, dict) else {}


def _cell(split_name: str) -> Cell:
    dataset, seed = split_name.rsplit("-s", 1)
    return dataset, int(seed)


def _mean(acc: dict[Cell, float], dataset: str) -> float:
    return float(np.mean([v for (d, _), v in acc.items() if d == dataset]))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _arrays_sha(arrays: dict[str, np.ndarray]) -> str:
    """One digest of named arrays: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _since(start: float) -> float:
    return round(time.monotonic() - start, 3)
