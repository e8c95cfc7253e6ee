"""What a template task's host-side data module returns: ``TemplateSplit``.

A task's ``data.py`` (trusted, host side, never mounted into a container) defines
``selection(secret)`` and optionally ``confirmation(secret)`` and ``hard(secret)``, each a list of
splits drawn from the installation's secret (``evaluators.kit.secrets.derive_seed``). A split's
``inputs`` go into the job's data file as ``<name>.<key>``; its ``targets`` and ``meta`` stay on
the host, where the metric and the task's extra checks read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*-s\d+$")  # "<dataset>-s<seed>"
KEY = re.compile(r"^[A-Za-z_]\w{0,40}$")
KINDS = "biuf"  # bool, signed and unsigned integers, floats: what np.load reads without pickle


@dataclass(frozen=True, eq=False)
class TemplateSplit:
    """One (dataset, seed) cell: the arrays a job gets, and those that stay on the host."""

    name: str  # "<dataset>-s<seed>"
    inputs: dict[str, np.ndarray]  # into the job, as "<name>.<key>"
    targets: dict[str, np.ndarray]  # host only: what the metric compares the predictions with
    secret_id: str = ""  # the DataSecret the split was drawn from ("": not secret)
    meta: dict[str, Any] = field(default_factory=dict)  # host only, for a task's extra checks

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise ConfigError(f"split name {self.name!r} is not '<dataset>-s<seed>'")
        for what, arrays in (("inputs", self.inputs), ("targets", self.targets)):
            if not isinstance(arrays, dict):
                raise ConfigError(f"split {self.name}: {what} is not a dict of arrays")
            for key, value in arrays.items():
                if not isinstance(key, str) or not KEY.match(key):
                    raise ConfigError(f"split {self.name}: {what} key {key!r} is no identifier")
                kind = np.asarray(value).dtype.kind
                if kind not in KINDS:
                    raise ConfigError(
                        f"split {self.name}: {what}[{key!r}] has dtype kind {kind!r}; "
                        "numbers or booleans only"
                    )

    def public(self) -> dict[str, np.ndarray]:
        """The arrays a container may see: the inputs only, as ``<name>.<key>``."""
        return {f"{self.name}.{k}": np.asarray(v) for k, v in self.inputs.items()}
