"""Which arguments each allowed callable may take, by position and by keyword: the static
checks refuse every argument slot that writes into an existing tensor or array, wherever it
appears (``F.relu(x, True)`` as much as ``F.relu(x, inplace=True)``).

The table is derived from the installed libraries, never typed by hand, so that an upgrade that
adds a write slot is seen: Python functions and classes by ``inspect.signature``; torch's C
functions and tensor methods by torch's own signature data (``torch.overrides``' testing
signatures) and the operator schemas, whose alias annotations mark every argument the operator
writes (``Tensor(a!) out``, ``max``, ``values``...). A slot is a write when the schema says so,
when its name is one of ``WRITE_NAMES``, or when it is private (``_weight``); a callable may take
positional arguments only up to its first write slot, and keywords only among its other
parameters. Builtins are not listed: none of those the sandbox hands out writes a tensor.
``tests/unit/evaluators/test_signatures.py`` walks every allowed callable and fuzzes the table
against the real functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

# Parameters that write whatever their name's function: a tensor to fill, an in-place flag, and
# the embedding's renormalisation (which rescales rows of the weight in place while reading).
WRITE_NAMES = frozenset({"out", "inplace", "max_norm"})
# The kinds of value whose methods a task's code can call, by the name a policy uses.
KINDS = ("tensor", "module", "optimizer", "ndarray", "container")


@dataclass(frozen=True)
class Slots:
    """What a call of one callable may pass."""

    positional: int | None  # how many positional arguments at most; None: any number
    keywords: frozenset[str]  # the keywords it may take
    writes: frozenset[str]  # its write slots, named
    stop: str = ""  # the write slot right after the last allowed position, if one is there

    def refusal(self, positional: int, starred: bool, keywords: Iterable[str]) -> str | None:
        """Why a call with ``positional`` arguments (``starred`` if one is ``*x``) and these
        keywords is refused, or None."""
        limit = self.positional
        if starred and limit is not None:
            return "* unpacking is not allowed in its call: the positions it fills are unknown"
        if limit is not None and positional > limit:
            most = "no positional argument" if limit == 0 else f"at most {_count(limit)}"
            if self.stop:
                return (
                    f"it takes {most} here: the next position ({self.stop}) writes into an "
                    "existing value"
                )
            return f"it takes {most}"
        for kw in keywords:
            if kw in self.writes or kw in WRITE_NAMES or kw.startswith("_"):
                return f"{kw}= writes into an existing value; return a new value instead"
            if kw not in self.keywords:
                return f"it takes no keyword {kw[:40]}="
        return None


def _count(n: int) -> str:
    return "one positional argument" if n == 1 else f"{n} positional arguments"


def resolve(path: str) -> Any:
    """The object a dotted path names (``F.relu``, ``torch.nn.functional.relu``,
    ``numpy.linalg.norm``, ``nn.init.normal_``); ``AttributeError`` if there is none."""
    import importlib

    roots = {"F": "torch.nn.functional", "nn": "torch.nn", "np": "numpy"}
    head, _, rest = path.partition(".")
    parts = [*roots.get(head, head).split("."), *rest.split(".")]
    for i in range(len(parts), 0, -1):  # the longest prefix that imports
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise AttributeError(path)


@cache
def _testing_signatures() -> dict[Any, Callable[..., Any]]:
    """torch's own signature data for its C functions and methods (lambdas that mirror them)."""
    from torch.overrides import get_testing_overrides

    return dict(get_testing_overrides())


def _is_torch(obj: Any) -> bool:
    """Whether ``obj`` is one of torch's own callables (whose operator schemas apply)."""
    import torch

    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] == "torch" or getattr(obj, "__objclass__", None) is (
        torch._C.TensorBase
    )


def _schemas(obj: Any) -> list[Any]:
    """torch's operator schemas for ``obj`` (none for anything else)."""
    import torch

    name = getattr(obj, "__name__", "")
    if not _is_torch(obj) or not isinstance(name, str) or not name:
        return []
    try:
        return list(torch._C._jit_get_schemas_for_operator(f"aten::{name}"))
    except RuntimeError:
        return []


def _written(argument: Any) -> bool:
    return argument.alias_info is not None and argument.alias_info.is_write


def _schema_writes(obj: Any) -> frozenset[str]:
    """Names of the arguments torch's operator schemas for ``obj`` mark as written (``out``,
    ``values`` ...), ``self`` aside (in-place operators end in ``_`` and are refused by name)."""
    return frozenset(
        a.name for s in _schemas(obj) for a in s.arguments if _written(a) and a.name != "self"
    )


def _schema_slots(obj: Any, method: bool) -> Slots | None:
    """The slots of a torch C function or tensor method, from its operator schemas: the
    positions of its longest overload that writes nothing (a first ``int[]`` parameter may also
    be spelled out, ``x.view(2, 3)``), and every keyword such an overload takes. ``self`` is the
    value a method is called on, ``input`` in the function's own spelling."""
    schemas = [s for s in _schemas(obj) if not any(_written(a) for a in s.arguments)]
    if not schemas:
        return None
    writes = _schema_writes(obj)
    skip = {"self"} if method else set()
    positions = [
        [a for a in s.arguments if not a.kwarg_only and a.name not in skip] for s in schemas
    ]
    sized = any(p and str(p[0].type).startswith(("List[int]", "List[SymInt]")) for p in positions)
    keywords = {a.name for s in schemas for a in s.arguments if a.name not in skip}
    if not method and "self" in keywords:
        keywords = (keywords - {"self"}) | {"input"}
    longest = max(len(p) for p in positions)
    return Slots(None if sized else longest, frozenset(keywords - writes - WRITE_NAMES), writes)


def _python_slots(params: list[inspect.Parameter], writes: set[str], extra: Iterable[str]) -> Slots:
    """The slots of a Python signature: positions up to the first write or private one (any
    number after ``*args``), keywords its other parameters and ``extra``."""
    writes.update(p.name for p in params if p.name in WRITE_NAMES)
    positional: int | None = 0
    open_positions, stop = True, ""
    keywords = set(extra) - writes
    for p in params:
        private = p.name.startswith("_")
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            positional = None if open_positions else positional
            open_positions = False
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and open_positions:
            if p.name in writes or private:
                open_positions, stop = False, p.name
            else:
                positional = (positional or 0) + 1
        named = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        if named and p.name not in writes and not private:
            keywords.add(p.name)
    return Slots(positional, frozenset(keywords), frozenset(writes), stop)


def _signature(obj: Any) -> inspect.Signature | None:
    """The signature of ``obj`` from Python, else from torch's testing signatures; None if
    neither knows it. A class's is its constructor's."""
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        testing = _testing_signatures().get(obj)
        return None if testing is None else inspect.signature(testing)


def slots_of(obj: Any, method: bool = False, extra: Iterable[str] = ()) -> Slots | None:
    """The slots of the callable ``obj`` (``method``: called on a value, so its first
    parameter is that value); ``extra`` adds keywords its ``**kwargs`` accepts. None when no
    signature is known: such a callable may not be called.

    Python functions and classes by their own signature; torch's C functions and methods by
    their operator schemas, else torch's testing signatures; ``math``'s C functions take and
    return floats, so any positions and no keywords."""
    python = inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)
    if not python:
        found = _schema_slots(obj, method)
        if found is not None:
            return found
    sig = _signature(obj)
    if sig is None:
        if getattr(obj, "__module__", None) == "math":
            return Slots(None, frozenset(), frozenset())
        return None
    params = list(sig.parameters.values())
    if method and params and params[0].kind is not inspect.Parameter.KEYWORD_ONLY:
        params = params[1:]  # the value the method is called on
    return _python_slots(params, set(_schema_writes(obj)), extra)


@cache
def for_path(path: str) -> Slots | None:
    """The slots of the allowed callable at ``path``; None when it is not callable or no
    signature is known."""
    try:
        obj = resolve(path)
    except AttributeError:
        return None
    if not callable(obj) or _is_dtype(obj):
        return None
    return _undescribed().get(obj) or slots_of(obj)


@cache
def _undescribed() -> dict[Any, Slots]:
    """The two allowed torch callables that neither Python nor torch's signature data
    describes, with their documented parameters; neither writes (the fuzz test checks)."""
    import torch

    return {
        torch.finfo: Slots(1, frozenset({"type"}), frozenset()),
        torch.Tensor.new_tensor: Slots(
            1, frozenset({"dtype", "device", "requires_grad"}), frozenset()
        ),
    }


def _is_dtype(obj: Any) -> bool:
    import torch

    return isinstance(obj, torch.dtype)


@cache
def _kind_types(kind: str) -> tuple[type, ...]:
    import numpy as np
    import torch

    return {
        "tensor": (torch.Tensor,),
        "module": (torch.nn.Module,),
        "optimizer": (torch.optim.Optimizer,),
        "ndarray": (np.ndarray,),
        "container": (list, dict, tuple, str),
    }[kind]


@cache
def for_method(name: str, kinds: tuple[str, ...]) -> Slots | None:
    """The slots of the method ``name`` called on a value of any of ``kinds`` (the check does
    not know which): at most the fewest positions, none of any kind's write slots. None when no
    kind has a callable ``name`` with a known signature (an attribute, not a method)."""
    found: list[Slots] = []
    for kind in kinds:
        for holder in _kind_types(kind):
            obj = inspect.getattr_static(holder, name, None)
            if obj is None or isinstance(obj, property) or not callable(obj):
                continue
            method = getattr(holder, name)
            slots = _undescribed().get(method) or slots_of(
                method, method=True, extra=_extra(holder, name)
            )
            if slots is None and holder in (list, dict, tuple, str):
                # Python's own containers and strings: they hold Python values, no tensor
                slots = Slots(None, frozenset(), frozenset())
            if slots is None:
                return None
            found.append(slots)
    if not found:
        return None
    limits = [s.positional for s in found if s.positional is not None]
    writes = frozenset().union(*(s.writes for s in found))
    keywords = frozenset().union(*(s.keywords for s in found)) - writes
    return Slots(min(limits) if limits else None, keywords, writes)


def _extra(holder: type, name: str) -> frozenset[str]:
    """Keywords an ndarray method's ``**kwargs`` takes: those of numpy's function of the same
    name (``a.sum(keepdims=True)``)."""
    import numpy as np

    if holder is not np.ndarray or not callable(getattr(np, name, None)):
        return frozenset()
    sig = _signature(getattr(np, name))
    if sig is None:
        return frozenset()
    return frozenset(list(sig.parameters)[1:])
