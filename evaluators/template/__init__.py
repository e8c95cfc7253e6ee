"""The template task kind: a task is a folder holding a training script with marked editable
blocks and a fixed part, a host-side data module drawing splits from the installation's secret,
and a declared metric computed on the host (``task.toml``: ``kind = "template"`` and a
``[template]`` table).

- ``spec``: ``TemplateSpec``, the ``[template]`` table checked.
- ``data``: ``TemplateSplit``, what a task's data module returns (inputs into the job, targets
  kept on the host).
- ``metrics``: ``METRICS``, the host-side metrics (total on any array).
- ``check`` (with ``allowlist``, ``rules``, ``values``): the static check of the edits.
- ``fixed`` and ``runner``: run in the container (``template_fixed`` and the runner).
- ``folder``: loading a task folder; ``evaluator``: ``TemplateEvaluator``, bound to a folder.

Names are imported lazily, so reading a ``task.toml`` does not load torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["METRICS", "TemplateEvaluator", "TemplateSpec", "TemplateSplit"]

_WHERE = {
    "METRICS": "evaluators.template.metrics",
    "TemplateEvaluator": "evaluators.template.evaluator",
    "TemplateSpec": "evaluators.template.spec",
    "TemplateSplit": "evaluators.template.data",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'evaluators.template' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
