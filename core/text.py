"""Untrusted text made safe to show: hypothesis code, container logs, reasons that quote them,
and model replies reach a user's terminal, rich tables and reports.

``clean`` drops what a terminal would act on (escape sequences, control characters, the Unicode
controls that reorder or hide text); ``shown`` also escapes rich markup, so ``[/]`` or
``[link=...]`` in a reason prints as written instead of raising or styling. Both are total: any
string in, a string out.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

# ANSI CSI and OSC sequences first (so their printable tails go too), then single controls:
# C0 except tab and newline, DEL, C1, and the bidirectional and invisible format characters.
_SEQUENCES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean(text: object) -> str:
    """``text`` as a string with escape sequences and control characters removed."""
    s = text if isinstance(text, str) else str(text)
    return _CONTROLS.sub("", _SEQUENCES.sub("", s))


def shown(text: object) -> str:
    """``clean(text)`` with rich markup escaped: safe inside a markup string or a table cell."""
    return escape(clean(text))


def cell(text: object, limit: int | None = None) -> Text:
    """A table cell that rich never parses as markup, cut to ``limit`` characters."""
    s = clean(text)
    return Text(s if limit is None else s[:limit])
