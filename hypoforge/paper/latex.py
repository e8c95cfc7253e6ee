"""Text into LaTeX that cannot do more than print: escaping, and the writer's small allowlist.

Everything that reaches the paper from outside trusted code (ideas, search results' titles, a
model's prose) goes through ``escape`` or ``prose``. ``escape`` makes text print as itself: every
LaTeX special character is replaced, every character outside printable ASCII is transliterated
or dropped, so no input can open a file, run a command or define a macro. ``prose`` lets a
model's text keep three things, each rebuilt by code from its parsed parts: ``\\cite{key}`` (keys
of the paper's bibliography only; others are refused and reported), and ``\\emph{...}`` and
``\\textbf{...}`` of plain words. Anything else, a backslash and inline math included, prints
literally. (Math was allowed once: it let a model print letters and digits the checks read
apart, ``con$ $firmed``, ``$0.9 {} 9$``, ``$\\left($`` that halts the compile; prose needs none.)
"""

from __future__ import annotations

import re
import unicodedata

from core.text import clean

SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "~": r"\~{}",
    "%": r"\%",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': "''",
}
_PIECE = re.compile(
    r"\\cite[pt]?\{(?P<keys>[^{}\\]{0,200})\}"
    r"|\\(?P<style>emph|textbf)\{(?P<words>[^{}\\$]{1,300})\}"
)
CITE_KEY = re.compile(r"[a-z0-9][a-z0-9:-]{0,60}")


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII: accents dropped (é -> e), dashes and quotes to ASCII, other
    characters to ``?``; controls and escape sequences removed (``core.text.clean``)."""
    text = clean(str(text))
    text = text.translate(
        {
            0x2013: "-",
            0x2014: "-",
            0x2212: "-",
            0x2018: "'",
            0x2019: "'",
            0x201C: '"',
            0x201D: '"',
            0x2026: "...",
            0xA0: " ",
            0x2009: " ",
        }
    )
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ch in "\n\t" or " " <= ch <= "~":
            out.append(" " if ch == "\t" else ch)
        elif not unicodedata.combining(ch):
            out.append("?")
    return "".join(out)


def escape(text: str) -> str:
    """``text`` as LaTeX that prints it literally (one paragraph: newlines become spaces)."""
    flat = " ".join(ascii_text(text).split())
    return "".join(SPECIAL.get(ch, ch) for ch in flat)


def escape_lines(text: str, limit: int = 200) -> str:
    """Code or other line-structured text, printed line by line in typewriter type (no verbatim
    environment: its end marker could be in the text); at most ``limit`` lines."""
    lines = ascii_text(text).splitlines()[:limit]
    body = []
    for line in lines:
        shown = "".join(SPECIAL.get(ch, ch) for ch in line.rstrip()[:160])
        indent = len(shown) - len(shown.lstrip(" "))
        body.append(
            "\\hspace*{" + f"{indent * 0.5:.1f}" + "em}" + shown.lstrip(" ") if indent else shown
        )
    # After ``\\`` a line starting with ``[`` or ``*`` would be read as its argument.
    body = ["{}" + b if b[:1] in ("[", "*") else b for b in body]
    return "{\\ttfamily\\small\n" + "\\\\\n".join(b or "~" for b in body) + "\\par}\n"


def _spaced(text: str) -> str:
    """``escape(text)`` keeping one space where ``text`` starts or ends with one (the words
    around a piece of markup)."""
    core = escape(text)
    if not core:
        return " " if text[:1].isspace() else ""
    return (" " if text[:1].isspace() else "") + core + (" " if text[-1:].isspace() else "")


def prose(text: str, keys: set[str]) -> tuple[str, list[str]]:
    """A model's prose as LaTeX: paragraphs kept, the allowlist rebuilt, the rest escaped.
    Returns the LaTeX and the citation keys it asked for that ``keys`` does not hold."""
    refused: list[str] = []
    paragraphs = [p for p in re.split(r"\n\s*\n", ascii_text(text)) if p.strip()]
    out = []
    for para in paragraphs:
        para = " ".join(para.split())
        parts: list[str] = []
        at = 0
        for m in _PIECE.finditer(para):
            parts.append(_spaced(para[at : m.start()]) if m.start() > at else "")
            at = m.end()
            if m.group("keys") is not None:
                asked = [k.strip() for k in m.group("keys").split(",") if k.strip()]
                known = [k for k in asked if k in keys and CITE_KEY.fullmatch(k)]
                refused += [k for k in asked if k not in known]
                if known:
                    parts.append("~\\citep{" + ",".join(known) + "}")
            else:
                parts.append(f"\\{m.group('style')}{{{escape(m.group('words'))}}}")
        parts.append(_spaced(para[at:]))
        # a refused citation leaves the spaces on both its sides
        joined = re.sub(" {2,}", " ", "".join(parts)).replace(" ~\\citep", "~\\citep")
        out.append(joined.strip())
    return "\n\n".join(out), refused


def plain(text: str) -> str:
    """What ``prose`` keeps of ``text`` as words, for checks: citations and markup dropped."""
    return _PIECE.sub(lambda m: m.group("words") or "", ascii_text(text))
