"""Host side of the example task: the plugin contract (``evaluators.contract.TaskEvaluator``)
written out by hand, so that every step a task owes is in view.

A hypothesis is ``f(x)``. ``evaluate`` checks the source on the host (nothing runs), writes it
into a fresh attempt folder, runs ``runner.py`` on it in one sandbox job (the folder and the runner
mounted read-only), reads the predictions back through ``sandbox.artifacts`` (bounded reads that
raise ``ArtifactError`` on anything malformed, never unpickled) and scores them here against a
target that never entered the container. Every number in the report is computed on this side.

A task that trains on data splits would rather subclass ``SandboxedEvaluator``
(``evaluators.kit.sandboxed``), which does the same with cached baselines, secret data and
bootstrap intervals (README, "Tasks are plugins").
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import numpy as np

from core.records import EvalReport, Outcome
from core.settings import Limits
from sandbox.artifacts import ArtifactError, read_npy
from sandbox.base import Job, Mount, Sandbox

HERE = Path(__file__).parent
GRID = np.linspace(-3.0, 3.0, 61)
BASELINES = {"zero": np.zeros_like(GRID), "identity": GRID}


def target(x: np.ndarray) -> np.ndarray:
    return np.tanh(2 * x) + 0.1 * x  # hidden from hypotheses: only x enters the container


class CurveFitEvaluator:
    """Built by the registry as ``CurveFitEvaluator(sandbox, home, limits, **options)``; this task
    takes no options (a split set, say) and ignores them."""

    def __init__(self, sandbox: Sandbox, home: Path, limits: Limits | None, **_: object) -> None:
        self.sandbox, self.home, self.limits = sandbox, home, limits or Limits()

    # The contract's required members: description, experiment_key, static_problem, behaviour,
    # evaluate. It has none of the optional capabilities (probe_many, confirmer, grammars), so a
    # campaign on it takes no fingerprints, confirms nothing and lets the model write free text.

    @property
    def description(self) -> str:
        return (HERE / "notes.md").read_text().strip()

    def experiment_key(self, source: str, budget: str) -> str:
        """Same key, same result: the campaign launches each experiment exactly once."""
        return hashlib.sha256(f"curvefit|{source}|{budget}".encode()).hexdigest()[:24]

    @staticmethod
    def static_problem(source: str) -> str | None:
        """Why the source is refused before anything runs, or None. The container is the
        security boundary; this check only spares it code that cannot be a hypothesis."""
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            return f"syntax error at line {exc.lineno}: {exc.msg}"
        if not any(isinstance(n, ast.FunctionDef) and n.name == "f" for n in tree.body):
            return "no function f(x) defined"
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) or (
                isinstance(n, ast.Import) and [a.name for a in n.names] != ["math"]
            ):
                return "imports are not allowed (math is provided)"
        return None

    @staticmethod
    def behaviour(report: EvalReport) -> list[float] | None:
        """No behavioural fingerprint: duplicates are found by their code only."""
        return None

    def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
        sha = hashlib.sha256(source.encode()).hexdigest()
        base = dict(task="curvefit", budget=budget, harness_version="1", code_sha=sha)
        problem = self.static_problem(source)
        if problem:
            return EvalReport(status=Outcome.INVALID, reason=problem, wall_seconds=0.0, **base)
        work = self.home / "attempts" / "curvefit" / sha[:12]
        n = 0
        while (work / str(n)).exists():
            n += 1
        (work / str(n) / "in").mkdir(parents=True)
        (work / str(n) / "in" / "hyp.py").write_text(source)
        job = Job(
            key=f"curvefit-{sha[:12]}-{n}",
            command=["python3", "-B", "/hf/code/runner.py", "/hf/in/hyp.py", "/hf/out"],
            mounts=[
                Mount(source=HERE / "runner.py", target="/hf/code/runner.py"),
                Mount(source=work / str(n) / "in", target="/hf/in"),
            ],
            out_dir=work / str(n) / "out",
            limits=self.limits.model_copy(update={"wall_seconds": 30}),
        )
        result = self.sandbox.run(job)
        if result.outcome is not Outcome.OK:
            return EvalReport(status=result.outcome, reason=result.reason, wall_seconds=0.0, **base)
        try:
            pred = read_npy(result.out_dir, "pred.npy", 1 << 20)
        except ArtifactError as exc:
            why = str(exc)
            return EvalReport(status=Outcome.INVALID_RESULT, reason=why, wall_seconds=0, **base)
        if pred.shape != GRID.shape or not np.isfinite(pred).all():
            why = "predictions malformed or non-finite"
            return EvalReport(status=Outcome.INVALID_RESULT, reason=why, wall_seconds=0, **base)
        error = float(np.mean((pred - target(GRID)) ** 2))
        wins = [
            1.0 if error < e else 0.5 if error == e else 0.0
            for e in (float(np.mean((b - target(GRID)) ** 2)) for b in BASELINES.values())
        ]
        return EvalReport(
            status=Outcome.OK,
            win_rate=sum(wins) / len(wins),
            comparisons=len(wins),
            wall_seconds=result.wall_seconds,
            image=result.image,
            **base,
        )
