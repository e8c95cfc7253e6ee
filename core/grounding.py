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
# word; a leading minus sign belongs to the number. Also the forms a reader reads as a number:
# thousands groups (``1,000,000``, ``1_000``), a bare decimal (``.99``), an exponent (``2e5``,
# ``1e-3``), and digits with a unit or suffix glued on (``10x``, ``5k``: the digits count).
TOKEN = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?![\d.])"
    r"|\d+(?:\.\d+)*|\.\d+)"
    r"(?:[eE][-+]?\d+)?(?!\d)"
)
_PARTS = re.compile(r"-?(\d*)(?:\.(\d+))?(?:[eE]([-+]?\d+))?")
# Integers this small are the text's own structure (sections, pages, tables, figures, lists);
# the rule does not ask for them. Code that needs them traced passes ``structural=0``.
STRUCTURAL = 20


PERCENT = re.compile(r"\s*(?:\\?%|per ?cent)", re.IGNORECASE)


def numbers_in(text: str) -> list[str]:
    """Every number token in ``text``, in order (a trailing ``.`` of a sentence left out)."""
    return [t.rstrip(".") for t in TOKEN.findall(text)]


def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """Every number token, with whether a percent sign (or "percent") follows it and whether a
    letter does (digits glued to a word: part of an id, not a number)."""
    return [
        (
            m.group(0).rstrip("."),
            PERCENT.match(text, m.end()) is not None,
            text[m.end() : m.end() + 1].isalpha(),
        )
        for m in TOKEN.finditer(text)
    ]


@dataclass
class Figures:
    """The figures trusted code provided: values (matched at a token's precision) and strings
    (versions, ids, hashes: matched exactly)."""

    values: set[float] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    glued: set[str] = field(default_factory=set)

    def add(self, value: object) -> None:
        """A figure: a number, or a string whose number tokens are each added."""
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            if math.isfinite(value):
                self.values.add(float(value))
            return
        text = str(value)
        for m in TOKEN.finditer(text):
            token = m.group(0).rstrip(".")
            if text[m.end() : m.end() + 1].isalpha():
                # Digits glued to letters (a hex id, "81911c4b"): they vouch only for the same
                # digits glued to letters in the text checked, never for a number standing alone.
                self.glued.add(token)
                continue
            self.strings.add(token)
            x = _value(token)
            if x is not None and math.isfinite(x):
                self.values.add(x)

    def update(self, values: Iterable[object]) -> None:
        for v in values:
            self.add(v)

    def traced(self, token: str, structural: int = STRUCTURAL, percent: bool = True) -> bool:
        """Whether ``token`` (from ``numbers_in``) is one of the figures at its precision; a
        percentage (``percent``) may also be a figure times 100. A number with an exponent must
        be a figure exactly: ``1e3`` shown "to the thousand" would match almost anything."""
        if token in self.strings:
            return True
        plain = token.replace(",", "").replace("_", "").replace(" ", "")
        m = _PARTS.fullmatch(plain)
        x = _value(token)
        if m is None or x is None or not math.isfinite(x):
            return False
        exponent = m.group(3)
        if exponent is not None:
            if len(exponent.lstrip("+-")) > 3:
                return False
            return any(abs(v - x) <= 1e-9 * max(1.0, abs(x)) for v in self.values)
        # ``2e5`` is shown to the hundred thousand, ``2.5e-3`` to the ten thousandth.
        places = max(-300, min(300, len(m.group(2) or "") - int(exponent or 0)))
        if re.fullmatch(r"-?\d+", plain) and abs(x) <= structural:
            return True
        return any(
            _prints_as(v, places, x) or (percent and _prints_as(100 * v, places, x))
            for v in self.values
        )

    def untraced(self, text: str, structural: int = STRUCTURAL) -> list[str]:
        """The number tokens of ``text`` no figure gives, each once, in order."""
        seen: list[str] = []
        for token, percent, glued in _tokens(text):
            if glued and token in self.glued:
                continue
            if token not in seen and not self.traced(token, structural, percent):
                seen.append(token)
        return seen


def _value(token: str) -> float | None:
    """The number a token shows (thousands separators dropped); None for a dotted string."""
    plain = token.replace(",", "").replace("_", "").replace(" ", "")
    if plain.lstrip("-").count(".") > 1:
        return None
    try:
        return float(plain)
    except ValueError:
        return None


def _prints_as(value: float, places: int, shown: float) -> bool:
    """``value`` printed with ``places`` decimals is ``shown`` (half-even or half-up)."""
    if not math.isfinite(value):
        return False
    step = 10.0**-places
    return abs(value - shown) <= step / 2 + 1e-12 * max(1.0, abs(value))
