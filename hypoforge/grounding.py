"""Which numbers in a text were provided by trusted code: the paper's and the reviewer's rule.

A number in text is *traced* to a set of figures when one of them, printed at the number's own
precision, gives it: ``0.71`` is traced to ``0.70732`` (two places) and ``70.7`` to it as a
percentage (``70.7%`` of ``0.70732``); ``12`` is traced to ``12``; a dotted token with more than
one dot (``2.13.0``, an arXiv id ``1908.08681`` has one) is traced only to the same string.
Parsing never raises: every token the pattern finds is a number or a dotted string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# A number: digits with at most one decimal part, or a dotted string (a version), not part of a
# word; a leading minus sign belongs to the number.
TOKEN = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)*(?![\w])")
# Integers this small are the text's own structure (sections, pages, tables, figures, lists);
# the rule does not ask for them. Code that needs them traced passes ``structural=0``.
STRUCTURAL = 20


def numbers_in(text: str) -> list[str]:
    """Every number token in ``text``, in order (a trailing ``.`` of a sentence left out)."""
    return [t.rstrip(".") for t in TOKEN.findall(text)]


@dataclass
class Figures:
    """The figures trusted code provided: values (matched at a token's precision) and strings
    (versions, ids, hashes: matched exactly)."""

    values: set[float] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)

    def add(self, value: object) -> None:
        """A figure: a number, or a string whose number tokens are each added."""
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            if math.isfinite(value):
                self.values.add(float(value))
            return
        for token in numbers_in(str(value)):
            self.strings.add(token)
            if token.count(".") <= 1:
                self.values.add(float(token))

    def update(self, values: Iterable[object]) -> None:
        for v in values:
            self.add(v)

    def traced(self, token: str, structural: int = STRUCTURAL) -> bool:
        """Whether ``token`` (from ``numbers_in``) is one of the figures at its precision."""
        if token in self.strings:
            return True
        if token.lstrip("-").count(".") > 1:
            return False
        try:
            x = float(token)
        except ValueError:
            return False
        places = len(token.split(".", 1)[1]) if "." in token else 0
        if places == 0 and abs(x) <= structural:
            return True
        return any(_prints_as(v, places, x) or _prints_as(100 * v, places, x) for v in self.values)

    def untraced(self, text: str, structural: int = STRUCTURAL) -> list[str]:
        """The number tokens of ``text`` no figure gives, each once, in order."""
        seen: list[str] = []
        for token in numbers_in(text):
            if token not in seen and not self.traced(token, structural):
                seen.append(token)
        return seen


def _prints_as(value: float, places: int, shown: float) -> bool:
    """``value`` printed with ``places`` decimals is ``shown`` (half-even or half-up)."""
    if not math.isfinite(value):
        return False
    step = 10.0**-places
    return abs(value - shown) <= step / 2 + 1e-12 * max(1.0, abs(value))
