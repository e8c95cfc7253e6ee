"""Code and diffs as HTML, highlighted on the server by pygments: classes only (the page's CSP
allows no inline style), every character of the source escaped by pygments' formatter, so code
that holds ``</pre><script>`` stays text inside its block."""

from __future__ import annotations

import difflib
from functools import lru_cache

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer

MAX_CHARS = 200_000  # a longer file is cut (with a note): a page stays fast


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


def unified(a: str, b: str, a_name: str, b_name: str) -> str:
    """The unified diff from ``a`` to ``b`` (two hypotheses' code, say)."""
    lines = difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), a_name, b_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@lru_cache(maxsize=1)
def css() -> str:
    """Pygments' stylesheet for the ``highlight`` class, made once per process."""
    return str(_formatter().get_style_defs(".highlight"))


_NOTE = '<p class="muted">(cut: the rest is in the campaign folder)</p>'
