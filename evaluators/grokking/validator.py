"""Static check of a grokking hypothesis: SEARCH/REPLACE edits that apply to ``train.py`` inside
its editable blocks, leaving code that cannot reach the fixed part of the script.

The edited blocks run in the same process as the fixed training loop and evaluation, so the check
is an allowlist, the template kind's (``evaluators.template.check``): each block is complete
Python on its own; it binds no builtin's and no fixed name (so the fixed part's ``range``,
``round``, ``torch``, ... mean what they say); it uses only listed torch, nn, F and math
operations, listed attributes and the names the blocks define; it sets attributes only on
``self`` in ``__init__`` and builds optimizers only in ``make_optimizer`` and has no way to step,
zero, read or write gradients or parameters in place, so the one optimizer the fixed loop steps
is the only one; and it carries no literal tables. The fixed part counts every tensor reachable
from the model and the optimizer.

Every input gives ``None`` or ``StaticCheckError`` (``EditError`` is one) with a reason a coder can
act on; line numbers are ``train.py``'s.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from evaluators.static_check import StaticCheckError
from evaluators.template.check import Template

TEMPLATE = Path(__file__).with_name("train.py")
REQUIRED = {"model": "Model", "optimizer": "make_optimizer", "loss": "loss_fn"}

__all__ = ["StaticCheckError", "check_edits", "check_script", "edited_script"]


@cache
def template() -> str:
    return TEMPLATE.read_text()


@cache
def _template() -> Template:
    """The task's checked template, as its evaluator holds it (``task.toml``'s ``[template]``)."""
    from evaluators.registry import get

    return get("grokking").evaluator_class().template  # type: ignore[attr-defined]


def fixed_names() -> frozenset[str]:
    """Names the fixed part binds at module level (imports, functions, constants)."""
    return _template().fixed_names


def edited_script(source: str) -> str:
    """``train.py`` with the hypothesis's edits applied (``EditError`` if they do not apply)."""
    return _template().edited(source)


def check_edits(source: str) -> None:
    """Raise ``StaticCheckError`` unless ``source`` is an acceptable set of edits."""
    _template().check_edits(source)


def check_script(script: str) -> None:
    """Raise ``StaticCheckError`` unless the blocks of ``script`` (train.py, edited) keep the
    rules; the unedited template keeps them too."""
    _template().check_script(script)
