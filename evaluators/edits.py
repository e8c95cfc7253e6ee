"""SEARCH/REPLACE edits to an experiment template with marked editable blocks.

A template is a complete script. Only the lines between ``# >>> EDIT <name>`` and
``# <<< EDIT <name>`` may change; everything else (the training loop, the evaluation) is fixed.
A hypothesis is one or more edits::

    <<<<<<< SEARCH
    LR = 3e-3
    =======
    LR = 1e-2
    >>>>>>> REPLACE

applied in order, each to the text the earlier ones left. Each edit must match exactly one place,
lie wholly inside one block and leave the markers alone; otherwise ``EditError`` says which edit,
what went wrong and where, in words a coder can act on.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from evaluators.static_check import StaticCheckError

BEGIN = re.compile(r"^# >>> EDIT (\w+)\s*$")
END = re.compile(r"^# <<< EDIT (\w+)\s*$")
MARKERS = re.compile(r"(<{7} SEARCH|={7}|>{7} REPLACE)[ \t]*")
MALFORMED = (
    "malformed edit: each edit is '<<<<<<< SEARCH', the old lines, '=======', the new "
    "lines, '>>>>>>> REPLACE', each marker on a line of its own"
)
MAX_EDITS = 12
MAX_EDITS_BYTES = 12_000


class EditError(StaticCheckError):
    """An edit that cannot be applied (one sentence naming the edit)."""


@dataclass(frozen=True)
class Edit:
    search: str
    replace: str


@dataclass(frozen=True)
class Block:
    name: str
    first: int  # 0-based index of the first line inside the block (after the BEGIN marker)
    end: int  # 0-based index of the END marker line
    body: str


def blocks(text: str) -> list[Block]:
    """The editable blocks of a template, in order; markers must pair up and not nest."""
    lines = text.splitlines(keepends=True)
    found: list[Block] = []
    open_name, first = None, 0
    for i, line in enumerate(lines):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_name is not None:
                raise EditError(f"line {i + 1}: block '{begin[1]}' opens inside '{open_name}'")
            open_name, first = begin[1], i + 1
        elif end:
            if end[1] != open_name:
                raise EditError(f"line {i + 1}: '# <<< EDIT {end[1]}' closes no open block")
            found.append(Block(end[1], first, i, "".join(lines[first:i])))
            open_name = None
    if open_name is not None:
        raise EditError(f"block '{open_name}' is never closed")
    return found


def fixed_regions(text: str) -> list[str]:
    """The text outside the blocks (markers included): what no edit may change."""
    lines = text.splitlines(keepends=True)
    regions, start = [], 0
    for b in blocks(text):
        regions.append("".join(lines[start : b.first]))
        start = b.end
    regions.append("".join(lines[start:]))
    return regions


def parse_edits(text: str) -> list[Edit]:
    """The edits in ``text`` (prose around them is ignored); empty text means no edits.

    A line-by-line scan (linear in the text, so no input can make it slow); Windows line ends
    are read as plain ones, and any other marker out of order makes the whole text malformed.
    """
    if len(text.encode(errors="replace")) > MAX_EDITS_BYTES:
        raise EditError(f"the edits are longer than {MAX_EDITS_BYTES} bytes")
    edits: list[Edit] = []
    state = "prose"  # then "search", "replace", and back to "prose" at each REPLACE marker
    lines: dict[str, list[str]] = {"search": [], "replace": []}
    for line in text.replace("\r\n", "\n").split("\n"):
        marker = _marker(line)
        if not marker:
            if state != "prose":
                lines[state].append(line)
        elif (state, marker) == ("prose", "search"):
            state, lines = "search", {"search": [], "replace": []}
        elif (state, marker) == ("search", "divider"):
            state = "replace"
        elif (state, marker) == ("replace", "replace"):
            edits.append(Edit(_joined(lines["search"]), _joined(lines["replace"])))
            state = "prose"
        else:
            raise EditError(MALFORMED)
    if state != "prose":
        raise EditError(MALFORMED)
    if len(edits) > MAX_EDITS:
        raise EditError(f"{len(edits)} edits; at most {MAX_EDITS}")
    return edits


def _marker(line: str) -> str:
    """Which edit marker ``line`` is ('search', 'divider', 'replace'), or ''."""
    found = MARKERS.fullmatch(line)
    return {"<": "search", "=": "divider", ">": "replace"}[line[0]] if found else ""


def apply_edits(template: str, text: str, *, filename: str = "train.py") -> str:
    """The template with the edits in ``text`` applied, or ``EditError``."""
    edits = parse_edits(text)
    if not edits and text.strip():
        raise EditError("no edits found: write '<<<<<<< SEARCH' ... '>>>>>>> REPLACE' blocks")
    names = [b.name for b in blocks(template)]
    current = template
    for n, edit in enumerate(edits, start=1):
        current = _apply_one(current, edit, f"edit {n}", filename, names)
    if fixed_regions(current) != fixed_regions(template):  # a second guard on the same rule
        raise EditError("the edits change code outside the editable blocks")
    return current


def _apply_one(text: str, edit: Edit, label: str, filename: str, names: list[str]) -> str:
    if not edit.search.strip():
        raise EditError(f"{label}: the SEARCH part is empty; copy the lines to replace")
    odd = next((c for c in edit.replace if not (c.isprintable() or c in "\t\n")), None)
    if odd is not None:  # line breaks Python and str.splitlines would count differently
        raise EditError(
            f"{label}: the REPLACE part contains the control character U+{ord(odd):04X}; "
            "write plain lines"
        )
    for line in edit.replace.split("\n"):
        if BEGIN.match(line) or END.match(line):
            raise EditError(f"{label}: the REPLACE part may not add or remove block markers")
    starts = _line_matches(text, edit.search)
    count = len(starts)
    if count == 0:
        raise EditError(f"{label}: SEARCH text matches nothing in {filename}{_hint(text, edit)}")
    if count > 1:
        raise EditError(
            f"{label}: SEARCH text matches {count} places in {filename}; "
            "include more surrounding lines so it matches one"
        )
    start = starts[0]
    stop = start + len(edit.search)
    first_line = text.count("\n", 0, start)
    last_line = text.count("\n", 0, max(start, stop - 1))
    inside = [b for b in blocks(text) if b.first <= first_line and last_line < b.end]
    if not inside:
        outside = _first_outside(text, first_line, last_line)
        where = text.splitlines()[outside].strip()
        raise EditError(
            f"{label}: changes line {outside + 1} ('{where[:80]}'), which is outside the "
            f"editable blocks ({', '.join(names)}); the training loop and the evaluation are fixed"
        )
    return text[:start] + edit.replace + text[stop:]


def _joined(lines: list[str]) -> str:
    """One side of an edit as whole lines (each ending in a newline), or empty."""
    return "".join(f"{line}\n" for line in lines)


def _line_matches(text: str, search: str) -> list[int]:
    """Where ``search`` (whole lines) occurs in ``text`` starting at the start of a line."""
    return [m.start() for m in re.finditer(f"(?m)^(?={re.escape(search)})", text)]


def _first_outside(text: str, first: int, last: int) -> int:
    inside = {i for b in blocks(text) for i in range(b.first, b.end)}
    return next(i for i in range(first, last + 1) if i not in inside)


def _hint(text: str, edit: Edit) -> str:
    """Where the coder probably meant: the closest line to the SEARCH text's first line."""
    want = edit.search.split("\n")[0][:200]  # bounded: the matcher is quadratic in length
    lines = [ln for ln in text.splitlines() if ln.strip()]
    close = difflib.get_close_matches(want, lines, n=1, cutoff=0.6)
    if close:
        return f" (closest line: '{close[0].strip()[:80]}'; copy lines exactly, spaces included)"
    return "; copy the lines to replace exactly, spaces included"
