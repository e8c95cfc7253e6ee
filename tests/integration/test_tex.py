"""The TeX image and the hardened compile job on the real Docker engine (the image is built by the
session fixture when this machine lacks it)."""

from __future__ import annotations

import struct
import time
import uuid
import zlib
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.records import Outcome
from sandbox.tex import Compiled, TexBox, ensure_tex_image

SENTENCE = "Gradient noise helps small transformers generalise on modular arithmetic."

PAPER = r"""\documentclass{article}
\usepackage[margin=1in]{geometry}
\usepackage{graphicx,booktabs,amsmath,xcolor,caption}
\usepackage{mathptmx}
\usepackage[numbers]{natbib}
\usepackage{hyperref}
\begin{document}
\section{Introduction}
%(sentence)s As shown by \citet{power2022}, grokking happens late.
\begin{figure}[h]\centering\includegraphics[width=2cm]{fig.png}\caption{A dot.}\end{figure}
\begin{table}[h]\centering\begin{tabular}{lr}\toprule a & $\alpha^2$ \\ \bottomrule\end{tabular}
\caption{A table.}\end{table}
\newpage
\section{More}
\textcolor{blue}{Second page.} \begin{equation} E = mc^2 \end{equation}
\bibliographystyle{plainnat}
\bibliography{refs}
\end{document}
"""

BIB = r"""@article{power2022,
  title = {Grokking: Generalization Beyond Overfitting},
  author = {Power, Alethea and Burda, Yuri},
  journal = {arXiv preprint arXiv:2201.02177},
  year = {2022}
}
"""


def png(width: int = 8, height: int = 8) -> bytes:
    """A small grey PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def tex(settings):
    ensure_tex_image(settings.sandbox)
    box = TexBox(settings.sandbox, wall_seconds=60, step_seconds=20)
    box.preflight()
    yield box
    box.close()


def paper(tmp_path: Path, body: str, name: str = "paper") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "paper.tex").write_text(body)
    return folder


def hostile(tmp_path: Path, body: str, name: str = "paper") -> Path:
    return paper(
        tmp_path, "\\documentclass{article}\\begin{document}\n" + body + "\n\\end{document}\n", name
    )


def everything(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())


def test_a_valid_paper_compiles_and_reads_back(tex, tmp_path):
    folder = paper(tmp_path, PAPER % {"sentence": SENTENCE})
    (folder / "refs.bib").write_text(BIB)
    (folder / "fig.png").write_bytes(png())
    result = tex.compile(folder, tmp_path / "out")
    assert result.ok, result
    assert result.outcome is Outcome.OK
    assert result.pages == 2
    assert result.errors == []
    assert not [w for w in result.warnings if "undefined" in w], result.warnings
    assert result.pdf == tmp_path / "out" / "paper.pdf"
    assert (tmp_path / "out" / "paper.blg").is_file()

    text = tex.text(result.pdf, tmp_path / "text")
    assert SENTENCE in " ".join(text.split())
    assert "Power and Burda" in " ".join(text.split())  # the citation resolved (natbib, plainnat)
    pages = tex.render(result.pdf, tmp_path / "png", first=1, last=2, dpi=40)
    assert [p.name for p in pages] == ["page-1.png", "page-2.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pages)


def test_a_latex_error_is_reported_with_its_line(tex, tmp_path):
    folder = hostile(tmp_path, "Fine.\n\\undefinedmacro")
    result = tex.compile(folder, tmp_path / "out")
    assert not result.ok
    assert result.outcome is Outcome.HYP_ERROR
    assert result.reason == "pdflatex (pass 1) failed"
    assert result.errors[0] == "Undefined control sequence. (l.3: \\undefinedmacro)"
    assert result.pdf is None


def test_warnings_and_chktex_are_reported_and_the_checks_cannot_be_forged(tex, tmp_path):
    body = (
        "\\section{A}\\label{s}\nSee section \\ref{s} and \\ref{nope}.\n"
        "\\immediate\\openout3=pdfinfo.txt \\immediate\\write3{Pages: 99}\\immediate\\closeout3"
    )
    result = tex.compile(hostile(tmp_path, body), tmp_path / "out")
    assert result.ok, result
    assert result.pages == 1  # pdfinfo's own count, not the document's file of that name
    assert "LaTeX Warning: Reference `nope' on page 1 undefined on input line 3." in result.warnings
    assert result.chktex == ["line 3: Non-breaking space (`~') should have been used."] * 2


def test_reading_outside_the_paper_is_refused(tex, tmp_path):
    marker = f"MARKER-{uuid.uuid4().hex}"
    secret = tmp_path / "secret.txt"  # beside the paper folder, on the host
    secret.write_text(marker)
    for i, target in enumerate(
        ["/etc/passwd", "../secret.txt", str(secret), "/hf/paper/../secret.txt"]
    ):
        folder = hostile(tmp_path, f"Before. \\input{{{target}}} After.", name=f"p{i}")
        out = tmp_path / f"out{i}"
        result = tex.compile(folder, out)
        assert not result.ok, target
        assert marker.encode() not in everything(out)
        assert b"root:x:0:0" not in everything(out)
    # A \openin that names the file directly reads nothing either.
    folder = hostile(
        tmp_path,
        "\\newread\\r\\openin\\r=/etc/passwd \\ifeof\\r CLOSED\\else\\read\\r to\\l OPEN:\\l\\fi",
        name="openin",
    )
    result = tex.compile(folder, tmp_path / "outr")
    assert result.ok, result
    assert "CLOSED" in tex.text(result.pdf, tmp_path / "textr")


def test_shell_escape_and_writes_outside_are_refused(tex, tmp_path):
    bodies = [
        "\\immediate\\write18{touch /hf/out/pwned}ran",
        "\\write18{touch /hf/out/pwned}ran",
        '\\input|"touch /hf/out/pwned" ran',
        "\\immediate\\openout9=/hf/out/pwned \\immediate\\write9{x}\\immediate\\closeout9 ran",
        "\\immediate\\openout9=../pwned \\immediate\\write9{x}\\immediate\\closeout9 ran",
        "\\immediate\\openout9=/tmp/pwned \\immediate\\write9{x}\\immediate\\closeout9 ran",
    ]
    for i, body in enumerate(bodies):
        out = tmp_path / f"out{i}"
        tex.compile(hostile(tmp_path, body, name=f"p{i}"), out)
        assert not (out / "pwned").exists(), body
        assert not list(tmp_path.rglob("pwned")), body


def test_an_endless_macro_loop_is_stopped_in_bounded_time(tex, tmp_path):
    start = time.monotonic()
    result = tex.compile(hostile(tmp_path, "\\def\\x{\\x}\\x"), tmp_path / "out")
    took = time.monotonic() - start
    assert not result.ok
    assert result.outcome is Outcome.TIMEOUT
    assert result.reason == "pdflatex (pass 1) timed out after 20 s"
    assert took < 20 + 15


def test_an_output_flood_is_bounded(tex, tmp_path):
    body = (
        "\\newcount\\n\\loop\\message{flooding the log with text}"
        "\\advance\\n 1 \\ifnum\\n<100000000\\repeat"
    )
    start = time.monotonic()
    result: Compiled = tex.compile(hostile(tmp_path, body), tmp_path / "out")
    assert not result.ok
    assert time.monotonic() - start < 60 + 15
    assert sum(p.stat().st_size for p in (tmp_path / "out").rglob("*")) <= 64 * 1024 * 1024


@pytest.mark.parametrize("content", [b"", b"%PDF-1.4\ngarbage\n", b"\x00\xff" * 5000])
def test_a_corrupt_pdf_gives_one_line(tex, tmp_path, content):
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(content)
    with pytest.raises(ConfigError) as text_error:
        tex.text(pdf, tmp_path / "t")
    with pytest.raises(ConfigError) as render_error:
        tex.render(pdf, tmp_path / "r")
    for exc in (text_error.value, render_error.value):
        assert str(exc).startswith("cannot read bad.pdf (hyp_error): ")
        assert "\n" not in str(exc)
