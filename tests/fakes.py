"""The shared fakes of the tests: a fake sandbox that writes canned output files instead of
running anything, a fake evaluator and scripted chat models for whole campaigns, archive
entries and scripted evaluators for fidelity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from core.errors import InfraError
from core.records import DatasetScore, EvalReport, Outcome
from core.settings import CampaignSettings
from evaluators.activation import runner
from evaluators.activation.harness import ActivationEvaluator, Probe, draw_probe
from evaluators.fingerprint import draw_points, fingerprint
from evaluators.kit import datasets
from evaluators.kit.splits import Split, SplitSets
from evaluators.novelty import ArchiveEntry
from evaluators.runner_loop import load
from hypoforge import campaign
from sandbox.base import Job, RunResult, Sandbox

SMALL_SPLITS = [datasets.split("iris", 0), datasets.split("wine", 0), datasets.split("moons", 1)]
# Small held-out splits: fresh seeds, a held-out dataset and the deep variant.
CONFIRM_SPLITS = [
    datasets.split("iris", 3),
    datasets.split("checkerboard", 3),
    datasets.split("spirals", 4, deep=True),
]
BY_NAME = {s.name: s for s in SMALL_SPLITS + CONFIRM_SPLITS}


def on_splits(
    selection: list[Split], confirmation: list[Split] | None = None
) -> Callable[..., Any]:
    """A ``hypoforge.cli.common.make_evaluator`` whose evaluators draw ``selection`` (and their
    confirmers ``confirmation``) instead of the task's data: small splits, built once."""
    sets = SplitSets(
        selection=lambda secret: selection,
        confirmation=None if confirmation is None else (lambda secret: confirmation),
    )

    def make(plugin: Any, *args: Any, **options: Any) -> Any:
        return plugin.make_evaluator(*args, split_sets=sets, **options)

    return make


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[labels]


def perfect(split: Split) -> np.ndarray:
    return one_hot(split.y_test, split.n_classes)


def half_right(split: Split) -> np.ndarray:
    wrong = (split.y_test + 1) % split.n_classes
    labels = np.where(np.arange(len(split.y_test)) % 2 == 0, split.y_test, wrong)
    return one_hot(labels, split.n_classes)


def write_probe(
    out: Path, name: str, fn: Callable[[np.ndarray], np.ndarray], spec: dict | None = None
) -> None:
    """What the runner's probe writes for ``fn`` (a numpy function) on the job's inputs."""
    spec = spec or draw_probe(np.random.default_rng(0))
    inputs = runner.probe_inputs(spec)
    arrays = {key: fn(x) for key, x in inputs.items()}
    arrays["grad"] = np.where(inputs["y"] > 0, 1.0, 0.0)
    for key, arr in arrays.items():
        np.save(out / f"{name}.probe_{key}.npy", np.asarray(arr).astype(np.float32))


class FakeSandbox(Sandbox):
    """Candidates get ``candidate_logits``; baselines get ``half_right`` logits."""

    def __init__(
        self,
        candidate_logits: Callable[[Split], np.ndarray] = perfect,
        outcome: Outcome = Outcome.OK,
        probe_fn: Callable[[np.ndarray], np.ndarray] = lambda p: np.maximum(p, 0),
        after: Callable[[Path], None] | None = None,
        preflight_error: InfraError | None = None,
    ) -> None:
        self.candidate_logits = candidate_logits
        self.outcome = outcome
        self.probe_fn = probe_fn
        self.after = after
        self.preflight_error = preflight_error
        self.jobs: list[Job] = []
        self.specs: list[dict] = []  # each job's job.json, as the container would have read it
        self.closed = False

    def preflight(self) -> None:
        if self.preflight_error is not None:
            raise self.preflight_error

    def image_ref(self) -> str:
        return "fake:1@sha256:0123456789abcdef"

    def reap_orphans(self) -> list[str]:
        return []

    def close(self) -> None:
        self.closed = True

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        spec = json.loads((in_dir / "job.json").read_text())
        self.specs.append(spec)
        probe = spec.get("checks", {}).get("probe")
        # The catalogue's components are probed together (several, no splits): each gets a
        # function of its own that no hypothesis here behaves like.
        published = not spec["splits"] and len(spec["candidates"]) > 1
        for i, name in enumerate(spec["candidates"]):
            is_candidate = name == "candidate"
            fn = self.probe_fn if is_candidate else np.tanh
            if published:
                fn = lambda p, i=i: np.cos(p + 0.1 * i)  # noqa: E731
            write_probe(job.out_dir, name, fn, probe)
            for split_name in spec["splits"]:
                split = BY_NAME[split_name]
                logits = self.candidate_logits(split) if is_candidate else half_right(split)
                np.save(job.out_dir / f"{name}.{split_name}.npy", logits)
        if self.after is not None:
            self.after(job.out_dir)
        return RunResult(
            outcome=self.outcome,
            reason="fake",
            out_dir=job.out_dir,
            image=self.image_ref(),
            log_tail="fake log\n",
        )


# -- campaign fakes: a fake evaluator, scripted chat models, campaign folders, archive entries --


def proposal(expr: str, idea: str = "a gate") -> str:
    return f"IDEA: {idea}\n```python\nimport torch\n\ndef activation(x):\n    return {expr}\n```"


class FakeEvaluator:
    description = "find a good activation"

    def __init__(self, fail_with: Outcome | None = None, probe_rejects: str = "") -> None:
        self.calls: list[tuple[str, str]] = []
        self.probed: list[str] = []  # hypotheses probed
        self.published: list[str] = []  # catalogue components probed (``together``)
        self.fail_with = fail_with
        self.probe_rejects = probe_rejects  # code containing this fails the fake probe

    def probe_many(self, sources: dict[str, str], *, together: bool = False) -> dict[str, Probe]:
        """Fingerprints from running the (test-written, trusted) code here with torch."""
        import torch

        from evaluators.fingerprint import draw_points, fingerprint

        if self.fail_with is not None:
            raise InfraError("engine down")
        out = {}
        for name, source in sources.items():
            (self.published if together else self.probed).append(name)
            if self.probe_rejects and self.probe_rejects in source:
                out[name] = Probe("zero gradient everywhere", None)
                continue
            namespace: dict = {}
            exec(source, namespace)
            pts = draw_points(np.random.default_rng())  # fresh points, as each job draws
            y = namespace["activation"](torch.from_numpy(pts)).numpy()
            fp = fingerprint(pts, y)
            out[name] = Probe(None, None if fp is None else [float(v) for v in fp])
        return out

    def experiment_key(self, source: str, budget: str) -> str:
        return hashlib.sha256(f"{source}|{budget}".encode()).hexdigest()[:24]

    static_problem = staticmethod(ActivationEvaluator.static_problem)
    behaviour = staticmethod(ActivationEvaluator.behaviour)

    def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
        self.calls.append((source, budget))
        if "torch.sin(" in source:  # stands for a hypothesis the sandbox's property check rejects
            return EvalReport(
                task="t",
                budget=budget,
                status=Outcome.INVALID,
                reason="non-finite output at x=100",
                harness_version="h",
                code_sha="c",
                wall_seconds=0.1,
            )
        if self.fail_with is not None:
            return EvalReport(
                task="t",
                budget=budget,
                status=self.fail_with,
                reason="engine down",
                harness_version="h",
                code_sha="c",
                wall_seconds=0.1,
            )
        wr = int(hashlib.sha256(source.encode()).hexdigest()[:4], 16) / 65535
        per_dataset = {
            d: DatasetScore(candidate=wr, baselines={"relu": 0.5, "tanh": 0.4}, win_rate=wr)
            for d in ("iris", "wine")
        }
        return EvalReport(
            task="t",
            budget=budget,
            status=Outcome.OK,
            win_rate=wr,
            win_rate_ci=(wr - 0.1, wr + 0.1),
            comparisons=84,
            per_dataset=per_dataset,
            harness_version="h",
            code_sha="c",
            wall_seconds=0.1,
        )


def models(
    proposals: list[str], verdicts: list[str] | None = None, code: list[str] | None = None
) -> dict:
    run = '{"decision": "run", "reasons": "fine", "p_win": 0.6}'
    return {
        "proposer": FakeListChatModel(responses=proposals),
        "critic": FakeListChatModel(responses=verdicts or [run]),
        "coder": FakeListChatModel(responses=code or [proposal("torch.tanh(x) * x")]),
        "analyst": FakeListChatModel(responses=["The gate did best at 0.97 win rate."]),
    }


def start(tmp_path, **budgets):
    folder = tmp_path / "camp"
    # The fakes propose published functions (SiLU, ReLU, tanh); tests of how a campaign treats
    # those (allow_known "once", "never") say so, the others run them as any other.
    info = campaign.create(
        folder, "activation", CampaignSettings(**{"allow_known": "yes", **budgets})
    )
    return folder, info


# Points as a job draws them (here once, with a seed: these are synthetic test values).
PTS = draw_points(np.random.default_rng(7)).astype(np.float64)


def fp(values: np.ndarray) -> list[float]:
    found = fingerprint(PTS, values.astype(np.float32))
    assert found is not None
    return [float(v) for v in found]


def entry(i, idea, code, values, outcome="ok", win_rate=0.5):
    return ArchiveEntry(
        id=f"c1/h{i}",
        task="activation",
        campaign="c1",
        generator="test",
        idea=idea,
        code=code,
        outcome=outcome,
        win_rate=win_rate,
        fingerprint=fp(values),
    )


class Recording(FakeListChatModel):
    """A fake chat model that keeps every system prompt it was sent."""

    seen: list[str] = Field(default_factory=list)  # system prompts
    asked: list[str] = Field(default_factory=list)  # the last message of each request
    after: Any = None  # called after each request is recorded

    def _call(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        self.seen.append(str(messages[0].content))
        self.asked.append(str(messages[-1].content))
        if self.after is not None:
            self.after()
        return super()._call(messages, stop, run_manager, **kwargs)


IDS = ["h0", "h1", "h2", "h3", "h4"]


class Scripted:
    """An evaluator whose win rates are given: ``rates[(split set, budget)][code]``; a code
    missing there times out."""

    task = "activation"
    version = "abc123"

    def __init__(self, rates, split_set="selection", infra=False):
        self.rates, self.split_set, self.infra = rates, split_set, infra
        self.splits_id = f"{split_set[:3]}-id"
        self.calls: list[tuple[str, str, str]] = []

    def confirmer(self):
        self.other = Scripted(self.rates, "confirmation", self.infra)
        self.other.calls = self.calls  # one log of who ran what, in order
        return self.other

    def evaluate(self, source, budget):
        self.calls.append((self.split_set, budget, source))
        wr = self.rates.get((self.split_set, budget), {}).get(source)
        status = Outcome.OK if wr is not None else Outcome.TIMEOUT
        if self.infra:
            status = Outcome.INFRA_ERROR
        return EvalReport(
            task=self.task,
            budget=budget,
            status=status,
            reason="" if wr is not None else "killed at 120 s",
            win_rate=wr,
            harness_version=self.version,
            code_sha="0",
            wall_seconds=0.0,
        )


def scripted(**columns):
    """``one_pass=[...]`` etc.: one win rate per hypothesis of ``IDS`` (code = id)."""
    rates = {}
    for key, values in columns.items():
        split_set, _, budget = key.partition("__")
        rates[(split_set, budget.replace("_", "-"))] = dict(zip(IDS, values, strict=True))
    return Scripted(rates)


SOURCES = {h: h for h in IDS}


UP = [0.1, 0.2, 0.3, 0.4, 0.5]


class ProbingSandbox(FakeSandbox):
    """Runs the runner's probe of each candidate the job names, on the inputs the host drew, in
    this process: for a test's own and the catalogue's sources only, never a hypothesis's."""

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        spec = json.loads((in_dir / "job.json").read_text())
        for name in spec["candidates"]:
            act = load(in_dir / "candidates" / f"{name}.py", "activation")["activation"]
            runner._probe(act, job.out_dir, name, spec["checks"]["probe"])
        return RunResult(outcome=self.outcome, reason="fake", out_dir=job.out_dir, image="fake")


class SystemPrompts(BaseCallbackHandler):
    """Keeps the system prompt of every request a chat model sends."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):  # type: ignore[no-untyped-def]
        self.seen.extend(str(batch[0].content) for batch in messages)
