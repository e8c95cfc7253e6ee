"""``SandboxedEvaluator``: a task's evaluator assembled from the kit's parts.

Flow for one hypothesis: static check -> one sandbox job (the task's runner.py on every split) ->
host checks (the task's ``_problem``) -> the task's ``scorer`` reads the predictions and scores
each cell with labels that never left the host -> win rate against the cached baseline results.
Nothing the hypothesis prints or writes is read as a score.

A task subclass names its parts; everything else has a default::

    class CurveEvaluator(SandboxedEvaluator):
        task = "curve"
        files = TaskFiles(HERE, baselines=("zero", "line"))       # runner, baselines, version
        split_sets = SplitSets(selection=lambda secret: data.splits(secret=secret))
        validate = staticmethod(check_source)                   # raises StaticCheckError
        # optional: scorer (default: test accuracy of logits), draw_checks, train_config,
        # runnable, _problem, result_extras, behaviour
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.errors import InfraError
from core.records import DatasetScore, EvalReport, Outcome
from core.settings import Limits
from evaluators.kit import baselines as baseline_cache
from evaluators.kit.budgets import Budget, get_budget
from evaluators.kit.files import RUNNER_LOOP, TaskFiles
from evaluators.kit.jobs import arrays_sha, claim_attempt, data_file, sha
from evaluators.kit.scoring import LogitsAccuracy, Scored, Scorer, advisory
from evaluators.kit.secrets import DataSecret, installation_secret
from evaluators.kit.splits import Cell, Split, SplitSets
from evaluators.kit.winrate import win_rate
from evaluators.static_check import StaticCheckError
from sandbox.base import Job, Mount, RunResult, Sandbox
from sandbox.removal import remove_tree

# The first thread computes a baseline run; the others wait for it and read the cache.
_BASELINES = threading.RLock()


class SandboxedEvaluator:
    """Scores hypotheses of one task: one sandbox job per hypothesis, predictions read back and
    scored on the host. See the module docstring for what a task sets."""

    task: ClassVar[str]
    files: ClassVar[TaskFiles]
    split_sets: ClassVar[SplitSets]
    scorer: ClassVar[Scorer] = LogitsAccuracy()
    # Derived from the parts for the contract's readers (``evaluators.contract.metric_of``).
    folder: ClassVar[Path]
    metric: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "files" in cls.__dict__:
            cls.folder = cls.files.folder
        cls.metric = cls.scorer.metric

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
        split_sets: SplitSets | None = None,
    ) -> None:
        self.keep = keep  # attempt folders kept after scoring: "none", "ok" or "all"
        self.sandbox = sandbox
        self.notify = notify or (lambda stage: None)  # progress messages for a live display
        self.home = home
        self.limits = limits or Limits()
        self._secret: DataSecret | None = None  # loaded on first use (see ``secret``)
        # Where the splits are drawn from: the task's own sets, or those given (tests give small
        # ones, so that every set an evaluator and its confirmer draw stays small).
        self.sets = split_sets or self.split_sets
        draw = self.sets.builder(split_set, self.task)  # refuses a set the task lacks
        self.split_set = split_set
        self.splits = splits if splits is not None else draw(self.secret)
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

    @classmethod
    def splits_for(cls, split_set: str, secret: DataSecret) -> list[Split]:
        """The splits of ``split_set``, drawn from ``secret``."""
        return cls.split_sets.builder(split_set, cls.task)(secret)

    def confirmer(self) -> SandboxedEvaluator | None:
        """The evaluator of this task on its confirmation splits (same sandbox, home, limits);
        None for a task without them, or an evaluator on explicit splits given none."""
        if self.sets.confirmation is None or (self._custom and self._confirm_splits is None):
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
            split_sets=self.sets,
        )

    @classmethod
    def harness_version(cls) -> str:
        """What defines a score, named (``TaskFiles.harness_version``)."""
        return cls.files.harness_version()

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
        folder = cls.files.folder / "grammars"
        roles = {"proposer": "proposal.gbnf", "coder": "code.gbnf"}
        if not all((folder / f).exists() for f in roles.values()):
            return {}
        shared = [
            p.read_text() for p in sorted(folder.glob("*.gbnf")) if p.name not in roles.values()
        ]
        return {
            role: "\n".join([(folder / name).read_text(), *shared]) for role, name in roles.items()
        }

    # -- hooks a task may override ---------------------------------------------------------------
    @staticmethod
    def behaviour(report: EvalReport, name: str = "candidate") -> list[float] | None:
        """A behavioural fingerprint of the hypothesis, where the task defines one."""
        return None

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
        return (self.files.folder / "description.md").read_text().strip()

    def experiment_key(self, source: str, budget: str) -> str:
        """Identity of one experiment: same key, same result (used for exactly-once launches)."""
        parts = (self.task, sha(source), get_budget(budget).name, self.splits_id, self.version)
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
        job = self.make_job({name: source}, spec, f"a{sha(source)[:12]}")
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
            code_sha=sha(source),
            status=status,
            reason=reason,
            wall_seconds=round(time.monotonic() - start, 3),
            data_secret=self.data_secret,
            split_set=self.split_set,
            splits_id=self.splits_id,
            **extra,
        )

    def cache_file(self, name: str) -> Path:
        """Where results cached per harness, splits, ``name`` (a budget) and image are kept."""
        return baseline_cache.cache_path(
            self.home, self.task, self.version, self.splits_id, name, self.sandbox.image_ref()
        )

    def baselines(self, spec: Budget) -> dict[str, dict[Cell, float]]:
        """Baseline scores, computed once per harness, splits, budget and image
        (``evaluators.kit.baselines``)."""
        with _BASELINES:
            cache = self.cache_file(spec.name)
            found = baseline_cache.load(cache)
            if found is not None:
                return found
            names = self.files.baselines
            sources = {b: self.files.baseline_source(b) for b in names}
            self.notify(f"computing baselines {', '.join(names)} (cached afterwards)")
            job = self.make_job(sources, spec, f"b{self.version}", n_candidates=len(sources))
            result = self.sandbox.run(job)
            out: dict[str, dict[Cell, float]] = {}
            for b in names:
                scored = self.score_output(result, b)
                if scored.outcome is not Outcome.OK:
                    raise InfraError(f"baseline {b} failed ({scored.outcome}): {scored.reason}")
                out[b] = scored.accuracy
            self.retire(result, keep=False)
            baseline_cache.save(cache, out)
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
        part = "" if names == every else "-" + sha(",".join(names))[:8]
        path = self.home / "data" / f"{self.task}-{self.version}-{self.splits_id}{part}.npz"
        return data_file(path, self.splits, names)

    @cached_property
    def data_hashes(self) -> dict[str, str]:
        """sha256 of each split's arrays as the data file holds them (what the sandbox is fed),
        by split name: recorded with each result, so a reproduction on other data says so."""
        with np.load(self.data_file(), allow_pickle=False) as data:
            return {s.name: arrays_sha({k: data[k] for k in s.public()}) for s in self.splits}

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
        key, in_dir = claim_attempt(root, tag, spec.name)
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
        extra = self.files.extra_code.items()
        return Job(
            key=key,
            command=["python3", "-B", "/hf/code/runner.py", "/hf/in", "/hf/data.npz", "/hf/out"],
            mounts=[
                Mount(source=self.files.folder / "runner.py", target="/hf/code/runner.py"),
                Mount(source=RUNNER_LOOP, target="/hf/code/runner_loop.py"),
                *(Mount(source=p, target=f"/hf/code/{n}") for n, p in extra),
                Mount(source=self.data_file(names), target="/hf/data.npz"),
                Mount(source=in_dir, target="/hf/in"),
            ],
            out_dir=root / key / "out",
            limits=limits,
            env={"PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"},
            labels={"hypoforge.task": self.task},
        )

    def score_output(self, result: RunResult, name: str) -> Scored:
        """Turn one candidate's output files into an outcome and host-computed scores.
        Total: whatever the files hold, an outcome with a reason comes back, never an error."""
        try:
            return self._score_output(result, name)
        except (ValueError, TypeError, IndexError, ArithmeticError, KeyError) as exc:
            # Arrays that passed every reader and still break a host computation are the
            # hypothesis's doing: a malformed result, not a crash of the campaign.
            why = f"its output could not be checked: {type(exc).__name__}: {str(exc)[:300]}"
            return Scored(Outcome.INVALID_RESULT, why)

    def _score_output(self, result: RunResult, name: str) -> Scored:
        if result.outcome in (
            Outcome.INFRA_ERROR,
            Outcome.TIMEOUT,
            Outcome.OOM,
            Outcome.DISK_QUOTA,
        ):
            return Scored(result.outcome, result.reason)
        status = advisory(result.out_dir, name)
        problem = self._problem(result.out_dir, name)
        if problem is not None or status.get("stage") in ("load", "probe", "check"):
            why = problem or status.get("error") or "failed the property check"
            if problem and status.get("stage") == "load" and status.get("error"):
                # It never got to the check: say why, for the coder (advisory, not a score).
                why = f"{problem}; the runner could not load it: {status['error']}"
            return Scored(Outcome.INVALID, why)
        if result.outcome is Outcome.HYP_ERROR and status.get("stage") != "done":
            # In a batch, another hypothesis may have set the exit code: this one finished.
            why = status.get("error") or result.reason
            return Scored(Outcome.HYP_ERROR, str(why)[:500])
        return self.scorer.score(result.out_dir, name, self.splits)


def _mean(acc: dict[Cell, float], dataset: str) -> float:
    return float(np.mean([v for (d, _), v in acc.items() if d == dataset]))
