"""Code and diffs as HTML, highlighted on the server by pygments: classes only (the page's CSP
allows no inline style), every character of the source escaped by pygments' formatter, so code
that holds ``</pre><script>`` stays text inside its block."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer

MAX_CHARS = 200_000  # a longer file is cut (with a note): a page stays fast
# Lines of each side that difflib compares, after their common head and tail are set aside:
# difflib is about cubic on text made of a few hundred lines each repeated about n/100 times
# (10,000 such lines take seconds, 20,000 most of a minute), and code is text from a model.
MAX_DIFF_LINES = 2_000
Code = tuple[str, int, int, int, int]  # a difflib opcode: (tag, i1, i2, j1, j2)


def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass="highlight", wrapcode=True)


def _cut(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_CHARS:
        return text, False
    return text[:MAX_CHARS], True


def code_html(source: str) -> Markup:
    """Python source (or a template task's edits) as a highlighted ``<pre>`` block."""
    text, cut = _cut(source)
    html = highlight(text, PythonLexer(stripnl=False), _formatter())
    return Markup(html + (_NOTE if cut else ""))


def diff_html(diff: str) -> Markup:
    """A unified diff as a highlighted block; an empty diff says so."""
    if not diff.strip():
        return Markup('<p class="muted">no difference</p>')
    text, cut = _cut(diff)
    html = highlight(text, DiffLexer(stripnl=False), _formatter())
    return Markup(html + (_NOTE if cut else ""))


def unified(a: str, b: str, a_name: str, b_name: str, context: int = 3) -> str:
    """The unified diff from ``a`` to ``b`` (two hypotheses' code, say). Past ``MAX_DIFF_LINES``
    lines, their common first and last lines are matched at once and only what lies between is
    compared; when that is still too long, a one-line note says so instead (a page stays
    fast)."""
    left, right = a.splitlines(keepends=True), b.splitlines(keepends=True)
    if max(len(left), len(right)) <= MAX_DIFF_LINES:
        lines = difflib.unified_diff(left, right, a_name, b_name, n=context)
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    head = 0
    while head < min(len(left), len(right)) and left[head] == right[head]:
        head += 1
    tail = 0
    while tail < min(len(left), len(right)) - head and left[-1 - tail] == right[-1 - tail]:
        tail += 1
    middle = (len(left) - head - tail, len(right) - head - tail)
    if max(middle) > MAX_DIFF_LINES:
        return (
            f"# too long to compare here: {middle[0]} and {middle[1]} lines differ "
            f"(at most {MAX_DIFF_LINES})\n"
        )
    matcher = difflib.SequenceMatcher(
        None, left[head : len(left) - tail], right[head : len(right) - tail]
    )
    codes: list[Code] = [
        (tag, i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if not (tag == "equal" and i1 == i2)
    ]
    if head:
        codes.insert(0, ("equal", 0, head, 0, head))
    if tail:
        codes.append(("equal", len(left) - tail, len(left), len(right) - tail, len(right)))
    out: list[str] = []
    for group in _Known(_merged(codes)).get_grouped_opcodes(context):
        if not out:
            out += [f"--- {a_name}\n", f"+++ {b_name}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in left[i1:i2]]
                continue
            out += ["-" + line for line in left[i1:i2]]
            out += ["+" + line for line in right[j1:j2]]
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


class _Known(difflib.SequenceMatcher):
    """A matcher whose opcodes are given (difflib's grouping into hunks, on them)."""

    def __init__(self, codes: list[Code]) -> None:
        super().__init__(None, [], [])
        self.codes = codes

    def get_opcodes(self) -> Any:
        return self.codes


def _merged(codes: list[Code]) -> list[Code]:
    """Adjacent equal runs as one (the head, the middle's first run and the tail may touch)."""
    out: list[Code] = []
    for code in codes:
        if out and code[0] == "equal" and out[-1][0] == "equal":
            tag, i1, _, j1, _ = out[-1]
            out[-1] = (tag, i1, code[2], j1, code[4])
        else:
            out.append(code)
    return out


def _range(start: int, stop: int) -> str:
    """A hunk's range as unified diffs write it (difflib's own rule)."""
    length = stop - start
    beginning = start + 1 if length else start
    return str(beginning) if length == 1 else f"{beginning},{length}"


@lru_cache(maxsize=1)
def css() -> str:
    """Pygments' stylesheet for the ``highlight`` class, made once per process."""
    return str(_formatter().get_style_defs(".highlight"))


_NOTE = '<p class="muted">(cut: the rest is in the campaign folder)</p>'
