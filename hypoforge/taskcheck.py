"""``hypoforge task check``: is a template task folder ready for a campaign?

Two parts, each giving one ``Problem`` per thing wrong, naming the file and, where it can, the
line (``train.py:12: ...``):

- ``static_problems`` (host only, no sandbox): task.toml (kind, the metric from the list, the
  ``[template]`` table), train.py (valid Python, editable blocks that pair up, the blocks
  task.toml requires defining their names, a fixed ``train_and_predict(inputs, rung, seed,
  checks)``, unedited blocks that keep the kind's rules) and data.py (it imports,
  ``selection(secret)`` returns splits holding the targets the metric reads; ``confirmation``
  and ``hard`` too where defined).
- ``sandbox_check`` (the task's evaluator on the real sandbox): per rung, the unedited template
  runs twice (the baseline run and a candidate run) and must score the same on every split, or
  the script is not deterministic; a crash is reported with its error and train.py's line; each
  rung's time against its wall clock; then the control panel (``controls/``), if there is one:
  its ranking and whether the harness separates it.

The data module is the user's own trusted host code (as for a campaign): it runs here, in this
process; the training script runs only in the sandbox.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import sys
import time
import tomllib
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InfraError
from core.records import EvalReport, Outcome
from evaluators.edits import EditError, blocks
from evaluators.kit.secrets import DataSecret

RUNGS = ("one-pass", "short", "full")
ENTRY = "train_and_predict"
ENTRY_ARGS = ["inputs", "rung", "seed", "checks"]
SPLIT_SETS = ("selection", "confirmation", "hard")  # data.py's functions; selection required
NO_BLOCKS = (
    "no editable blocks: mark the lines hypotheses may change with '# >>> EDIT <name>' and "
    "'# <<< EDIT <name>' lines"
)
TRACE_LINE = re.compile(r'candidates/[^"/]+\.py", line (\d+)')
AT_LINE = re.compile(r"^line (\d+): (.*)$", re.S)
RULE_LINE = re.compile(r"^(.*?)\S+\.py line (\d+): (.*)$", re.S)


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``where`` is a file (``task.toml``) or a file and line (``train.py:12``)."""

    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


@dataclass
class Checked:
    """What the sandbox part found: lines to show (times, ranking) and the problems."""

    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# -- host-side checks ------------------------------------------------------------------------------
def _line_of(text: str, key: str) -> int | None:
    """The first line of a TOML text that sets ``key`` (1-based), if any."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    return next((i for i, line in enumerate(text.splitlines(), 1) if pattern.match(line)), None)


def _at(name: str, line: int | None) -> str:
    return name if line is None else f"{name}:{line}"


def read_toml(folder: Path) -> tuple[dict[str, Any] | None, str, list[Problem]]:
    """task.toml's table and text, or the problems that keep it from being read."""
    path = folder / "task.toml"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, "", [Problem("task.toml", "missing: a task folder needs one")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, "", [Problem("task.toml", f"cannot be read: {exc}")]
    try:
        return tomllib.loads(text), text, []
    except tomllib.TOMLDecodeError as exc:
        return None, text, [Problem("task.toml", f"not valid TOML: {exc}")]


def spec_problems(raw: dict[str, Any], text: str) -> tuple[Any, list[Problem]]:
    """The checked ``[template]`` table (``TemplateSpec``), or the problems with it."""
    from pydantic import ValidationError

    from evaluators.template.metrics import METRICS
    from evaluators.template.spec import TemplateSpec

    kind = raw.get("kind", "plugin")
    if kind != "template":
        why = f'kind is {kind!r}: task check checks template tasks (kind = "template")'
        return None, [Problem(_at("task.toml", _line_of(text, "kind")), why)]
    table = raw.get("template")
    if not isinstance(table, dict):
        return None, [Problem("task.toml", "no [template] table")]
    metric = table.get("metric")
    if metric not in METRICS:
        return None, [
            Problem(
                _at("task.toml", _line_of(text, "metric")),
                f"metric {metric!r} is not in the list: {', '.join(METRICS)}",
            )
        ]
    try:
        return TemplateSpec.model_validate(table), []
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        why = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        why = why.removeprefix("Value error, ")
        line = _line_of(text, str(first["loc"][0])) if first["loc"] else None
        return None, [Problem(_at("task.toml", line), f"[template] {key}: {why}")]


def script_problems(folder: Path, spec: Any, text: str) -> list[Problem]:
    """train.py: valid Python, blocks, required names, the fixed entry point."""
    name = spec.script
    try:
        source = (folder / name).read_text()
    except FileNotFoundError:
        return [Problem(name, "missing (task.toml [template] script)")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(name, f"cannot be read: {exc}")]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Problem(_at(name, exc.lineno), f"not valid Python: {exc.msg}")]
    try:
        found = blocks(source)
    except EditError as exc:
        m = AT_LINE.match(str(exc))
        return [Problem(_at(name, int(m[1])), m[2]) if m else Problem(name, str(exc))]
    if not found:
        return [Problem(name, NO_BLOCKS)]
    problems = []
    by_name = {b.name: b for b in found}
    for block, wanted in spec.required.items():
        if block not in by_name:
            why = f"required names block {block!r}, which {name} does not have"
            problems.append(Problem(_at("task.toml", _line_of(text, "required")), why))
            continue
        b = by_name[block]
        defined = {
            n.name
            for n in tree.body
            if isinstance(n, ast.ClassDef | ast.FunctionDef) and b.first < n.lineno <= b.end
        } | {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign) and b.first < n.lineno <= b.end
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        if wanted not in defined:
            why = f"block {block} does not define {wanted} (task.toml [template] required)"
            problems.append(Problem(_at(name, b.first), why))
    entry = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == ENTRY]
    if not entry:
        why = f"no {ENTRY}({', '.join(ENTRY_ARGS)}) at the top level: the harness calls it"
        return [*problems, Problem(name, why)]
    fn = entry[-1]
    inside = [b for b in found if b.first < fn.lineno <= b.end]
    if inside:
        why = f"{ENTRY} is inside block {inside[0].name}: the entry point must be fixed"
        problems.append(Problem(_at(name, fn.lineno), why))
    params = [a.arg for a in fn.args.args]
    if params != ENTRY_ARGS:
        why = f"{ENTRY} takes ({', '.join(params)}), not ({', '.join(ENTRY_ARGS)})"
        problems.append(Problem(_at(name, fn.lineno), why))
    return problems


def _data_line(exc: BaseException, path: Path) -> int | None:
    """The last line of ``path`` in the exception's traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def load_data(path: Path) -> Any:
    """The data module at ``path``, loaded under a name of its own (raises what it raises)."""
    spec = importlib.util.spec_from_file_location(f"hypoforge_check_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # a data module may import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def data_problems(folder: Path, spec: Any, secret: DataSecret) -> list[Problem]:
    """data.py: it imports, ``selection(secret)`` (and ``confirmation``, ``hard`` where defined)
    returns ``TemplateSplit``s holding the target the metric reads."""
    from evaluators.template.data import TemplateSplit
    from evaluators.template.metrics import METRICS

    name, path = spec.data, (folder / spec.data).resolve()
    if not path.exists():
        return [Problem(name, "missing (task.toml [template] data)")]
    try:
        module = load_data(path)
    except Exception as exc:  # the user's own code: any error is a problem to report
        return [Problem(_at(name, _data_line(exc, path)), f"fails on import: {_error(exc)}")]
    against = METRICS[spec.metric].against
    problems = []
    for split_set in SPLIT_SETS:
        fn = getattr(module, split_set, None)
        if fn is None:
            if split_set == "selection":
                problems.append(Problem(name, "defines no selection(secret)"))
            continue
        try:
            splits = fn(secret)
        except Exception as exc:  # the user's own code
            why = f"{split_set}() failed: {_error(exc)}"
            problems.append(Problem(_at(name, _data_line(exc, path)), why))
            continue
        if not isinstance(splits, list | tuple) or not splits:
            problems.append(Problem(name, f"{split_set}() returned no splits"))
            continue
        for s in splits:
            if not isinstance(s, TemplateSplit):
                why = f"{split_set}() returned a {type(s).__name__}, not a TemplateSplit"
                problems.append(Problem(name, why))
                break
            if against not in s.targets:
                why = (
                    f"{split_set}(): split {s.name} has no target {against!r}, which the "
                    f"metric {spec.metric} reads"
                )
                problems.append(Problem(name, why))
                break
    return problems


def static_problems(folder: Path, secret: DataSecret) -> list[Problem]:
    """Every problem that shows without the sandbox; ``ConfigError`` for no folder at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"no task folder at {folder}")
    raw, text, problems = read_toml(folder)
    if raw is None:
        return problems
    spec, problems = spec_problems(raw, text)
    if spec is None:
        return problems
    script = script_problems(folder, spec, text) or rule_problems(folder, spec)
    return [*script, *data_problems(folder, spec, secret)]


def rule_problems(folder: Path, spec: Any) -> list[Problem]:
    """The template kind's own check of the unedited script (``folder.load_template``): its
    blocks keep the rules every hypothesis's blocks must keep."""
    from evaluators.template.folder import load_template

    try:
        load_template(folder, spec)
    except ConfigError as exc:
        why = str(exc).removeprefix(f"{folder / spec.script}: ")
        at = RULE_LINE.match(why)  # "...: train.py line 9: Import ..." -> train.py:9
        if at is not None:
            return [Problem(f"{spec.script}:{at[2]}", f"{at[1]}{at[3]}")]
        return [Problem(spec.script, why)]
    return []


# -- the sandbox -----------------------------------------------------------------------------------
def _trace_line(report: EvalReport) -> int | None:
    """train.py's line in the runner's traceback of a crash (its advisory status.json; total)."""
    if not report.artifacts:
        return None
    try:
        status = json.loads((Path(report.artifacts) / "status.json").read_text()[:100_000])
        trace = str(status["candidate"].get("trace", ""))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    found = TRACE_LINE.findall(trace)
    return int(found[-1]) if found else None


def _cells(scores: dict[Any, float]) -> dict[str, float]:
    """Baseline scores keyed ``(dataset, seed)`` as the report's ``"<dataset>-s<seed>"``."""
    return {f"{k[0]}-s{k[1]}" if isinstance(k, tuple) else str(k): v for k, v in scores.items()}


def compare_runs(first: dict[str, float], second: dict[str, float]) -> str | None:
    """Why two runs of one script are not the same result (None when they are)."""
    if set(first) != set(second):
        return f"the two runs scored different splits ({sorted(first)} and {sorted(second)})"
    for cell in sorted(first):
        a, b = first[cell], second[cell]
        if a != b and not (math.isnan(a) and math.isnan(b)):
            return f"scored {a:.6g} and {b:.6g} on {cell}"
    return None


def run_rung(evaluator: Any, spec: Any, rung: str, script: str) -> tuple[list[str], list[Problem]]:
    """The unedited template at ``rung``: its baseline run, then a candidate run; the time of
    the candidate run, and whether the two agree."""
    from evaluators.kit.budgets import get_budget
    from sandbox.removal import remove_tree

    wall = spec.rung(rung).wall_seconds
    budget = get_budget(rung)
    try:
        base = evaluator.baselines(budget)
    except InfraError:
        base = None  # the template failed as a baseline: its run as a candidate says why
    keep, evaluator.keep = evaluator.keep, "all"  # the crash's trace is read, then removed
    try:
        report = evaluator.evaluate("", rung, static_check=False)
    finally:
        evaluator.keep = keep
    try:
        return _judge(report, base, rung, wall, script)
    finally:
        if report.artifacts:
            remove_tree(Path(report.artifacts).parent)


def _judge(
    report: EvalReport, base: dict[str, Any] | None, rung: str, wall: float, script: str
) -> tuple[list[str], list[Problem]]:
    seconds = report.wall_seconds
    if report.status is Outcome.TIMEOUT:
        why = f"rung {rung}: the unedited template ran past its {wall:g} s wall clock"
        return [], [Problem("task.toml", f"{why}: lower its steps or raise wall_seconds")]
    if report.status is Outcome.INFRA_ERROR:
        raise InfraError(f"rung {rung}: {report.reason}")
    if report.status is not Outcome.OK:
        why = f"the unedited template failed in the sandbox at {rung} ({report.status}): "
        return [], [Problem(_at(script, _trace_line(report)), why + report.reason[:400])]
    lines = [f"rung {rung}: {seconds:.1f} s of the {wall:g} s allowed"]
    mean = sum(report.cells.values()) / max(len(report.cells), 1)
    lines[0] += f", mean score {mean:.4f} on {len(report.cells)} splits"
    lines += [f"rung {rung}: flagged: {f}" for f in report.flags]
    if base is None:
        return lines, [Problem(script, f"the unedited template failed as the baseline at {rung}")]
    template = base.get("template", next(iter(base.values()), {}))
    differ = compare_runs(_cells(template), dict(report.cells))
    if differ is not None:
        why = (
            f"not deterministic: two runs of the unedited template at {rung} {differ}; draw "
            "every random number from seed (torch.manual_seed(seed), np.random.default_rng(seed))"
        )
        return lines, [Problem(script, why)]
    return lines, []


def controls_check(evaluator: Any, folder: Path, notify: Callable[[str], None]) -> Checked:
    """The control panel at one-pass: its ranking and whether the harness separates it."""
    from evaluators import calibration

    found = Checked()
    try:
        controls = calibration.panel(folder)
    except ConfigError as exc:  # "<path>: why" -> the folder's own file name
        why = str(exc).removeprefix(f"{calibration.panel_path(folder)}: ")
        found.problems.append(Problem("controls/controls.toml", why))
        return found
    result = calibration.calibrate(evaluator, controls, "one-pass", notify=notify)
    scored = sorted(
        (c for c in result["controls"] if c.get("metric_mean") is not None),
        key=lambda c: -c["metric_mean"],
    )
    ranking = " > ".join(f"{c['name']} ({c['rank']}, {c['metric_mean']:.4f})" for c in scored)
    found.lines.append(f"controls at one-pass, best first: {ranking or 'none finished'}")
    failed = [c for c in result["controls"] if c.get("status") != str(Outcome.OK)]
    for c in failed:
        why = f"control {c['name']} did not finish ({c['status']}): {c.get('reason', '')}"
        found.problems.append(Problem("controls/controls.toml", why[:500]))
    if not result["separates"]:
        found.problems.append(Problem("controls/controls.toml", calibration.verdict_line(result)))
    else:
        found.lines.append(calibration.verdict_line(result))
    return found


def sandbox_check(
    evaluator: Any,
    folder: Path,
    rungs: list[str],
    notify: Callable[[str], None] = lambda message: None,
) -> Checked:
    """Run the unedited template at each of ``rungs`` (twice each: same score, or not
    deterministic) and the control panel if there is one. Stops at the first rung that fails."""
    from evaluators import calibration

    raw, text, problems = read_toml(Path(folder))
    spec, more = spec_problems(raw or {}, text)
    if spec is None:
        return Checked(problems=[*problems, *more])
    found = Checked()
    for rung in rungs:
        notify(f"the unedited template at {rung}, twice")
        start = time.monotonic()
        lines, problems = run_rung(evaluator, spec, rung, spec.script)
        found.lines += lines
        found.problems += problems
        if problems:
            return found
        notify(f"{rung} done in {time.monotonic() - start:.0f} s")
    if calibration.panel_path(Path(folder)).exists():
        panel = controls_check(evaluator, Path(folder), notify)
        found.lines += panel.lines
        found.problems += panel.problems
    return found
