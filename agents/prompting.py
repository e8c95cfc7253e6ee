"""The one prompt loader: Jinja2 files from ``prompts/``, a task folder's ``prompts/`` first.

Undefined variables are errors (StrictUndefined), so a template and its caller cannot drift apart
silently. Every template also gets ``task``: the name, summary and slot from the task folder's
``task.toml`` (empty without a folder), so the default prompts are written from the task's own
description and name no other task.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import jinja2

import prompts

DEFAULT_DIR = Path(prompts.__file__).parent


def grammar(name: str) -> str:
    """A default GBNF grammar from ``prompts/`` (task grammars come from the task folder)."""
    return (DEFAULT_DIR / f"{name}.gbnf").read_text()


def render(name: str, task_dir: Path | None = None, **variables: object) -> str:
    """Render ``<name>.md.j2``; a same-named file in ``task_dir/prompts`` overrides the default."""
    search = [str(task_dir / "prompts")] if task_dir is not None else []
    variables.setdefault("task", task_facts(task_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(DEFAULT_DIR)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # plain text for a language model, not HTML
    )
    return env.get_template(f"{name}.md.j2").render(**variables).strip() + "\n"


def task_facts(task_dir: Path | None) -> dict[str, str]:
    """``name``, ``summary`` and ``slot`` of the task in ``task_dir`` (from its ``task.toml``)."""
    facts = {"name": "", "summary": "", "slot": ""}
    spec = task_dir / "task.toml" if task_dir is not None else None
    if spec is not None and spec.exists():
        found = tomllib.loads(spec.read_text())
        facts.update({k: str(found.get(k, "")) for k in facts})
    return facts
