"""The TeX image's tag, and the parsers of what a TeX container wrote (untrusted: never raise)."""

from __future__ import annotations

import random
from pathlib import Path

import docker
import pytest

from core.errors import ConfigError, ImageMissing, InfraError
from core.records import Outcome
from core.settings import DockerSandboxSettings
from sandbox import tex
from sandbox.base import RunResult

LOG = r"""This is pdfTeX, Version 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)
(./paper.tex
LaTeX2e <2022-11-01> patch level 1
LaTeX Warning: Citation `smith2020' on page 1 undefined on input line 12.

LaTeX Warning: Citation `smith2020' on page 1 undefined on input line 12.

Overfull \hbox (12.0pt too wide) in paragraph at lines 14--15
[]\OT1/cmr/m/n/10 A very long line
Overfull \hbox (3.0pt too wide) in paragraph at lines 20--21
Underfull \vbox (badness 10000) has occurred while \output is active []

Package natbib Warning: There were undefined citations.

./paper.tex:31: Undefined control sequence.
l.31 \foo
         {bar}
The control sequence at the end of the top line
./paper.tex:40: LaTeX Error: File `missing.sty' not found.
!  ==> Fatal error occurred, no output PDF file produced!
"""


def test_the_tag_changes_with_the_recipe(tmp_path, monkeypatch):
    for name in tex.RECIPE_FILES:
        (tmp_path / name).write_text(f"recipe {name}\n")
    monkeypatch.setattr(tex, "TEX_DIR", tmp_path)
    first = tex.tex_tag()
    assert first.startswith("hypoforge-tex:") and len(first) == len("hypoforge-tex:") + 16
    assert tex.tex_tag() == first
    (tmp_path / "texmf-hardening.cnf").write_text("openin_any = a\n")
    assert tex.tex_tag() != first


def test_the_real_recipe_hardens_kpathsea():
    cnf = (tex.TEX_DIR / "texmf-hardening.cnf").read_text()
    for line in ("openin_any = p", "openout_any = p", "shell_escape = f", "MKTEXPK = 0"):
        assert line in cnf.splitlines()
    assert "compile.sh" not in tex.RECIPE_FILES  # mounted per job, so a change needs no rebuild


def test_a_log_gives_errors_with_context_and_warnings():
    errors, warnings = tex.parse_log(LOG)
    assert errors == [
        "Undefined control sequence. (l.31: \\foo)",
        "LaTeX Error: File `missing.sty' not found.",
    ]
    assert warnings == [
        "LaTeX Warning: Citation `smith2020' on page 1 undefined on input line 12.",
        "Package natbib Warning: There were undefined citations.",
        "2 overfull boxes",
        "1 underfull box",
    ]


def test_chktex_and_pdfinfo_outputs_parse():
    out = (
        "12:5:24:Delete this space to maintain correct pagereferences.\n"
        "noise\n3:1:8:Wrong length of dash.\n"
    )
    assert tex.parse_chktex(out) == [
        "line 12: Delete this space to maintain correct pagereferences.",
        "line 3: Wrong length of dash.",
    ]
    info = "Title:           A paper\nProducer:        pdfTeX-1.40.24\nPages:           7\n"
    assert tex.parse_pages(info) == 7
    assert tex.parse_pages("Pages: many\n") is None
    assert tex.parse_pages("Pages:           99999999999\n") is None
    blg = "Database file #1: x\nI couldn't open database file refs.bib\n---line 3 of file paper.aux"
    assert tex.parse_blg(blg) == [
        "I couldn't open database file refs.bib",
        "---line 3 of file paper.aux",
    ]


def garbage(seed: int, size: int) -> str:
    rng = random.Random(seed)
    pieces = [
        "! ",
        "./x.tex:1: ",
        "l.9 ",
        "\n",
        "LaTeX Warning: ",
        "Overfull \\hbox",
        "\x1b[31m",
        "\u202e",
        "\x00",
        "Pages: ",
        "1:2:3:",
        "\ufffd",
        "x" * 5000,
    ]
    return "".join(rng.choice(pieces) for _ in range(size))


@pytest.mark.parametrize("seed", range(20))
def test_parsers_never_raise_and_stay_bounded(seed):
    text = garbage(seed, 3000)
    errors, warnings = tex.parse_log(text)
    assert len(errors) <= tex.MAX_ERRORS
    assert len(warnings) <= tex.MAX_WARNINGS + 2
    for line in [*errors, *warnings, *tex.parse_chktex(text), *tex.parse_blg(text)]:
        assert len(line) <= tex.LINE_LIMIT
        assert "\x1b" not in line and "\x00" not in line and "\u202e" not in line
    assert len(tex.parse_chktex(text)) <= tex.MAX_CHKTEX
    pages = tex.parse_pages(text)
    assert pages is None or pages >= 0


def test_read_bounded_cuts_decodes_and_refuses_links(tmp_path):
    big = tmp_path / "big.log"
    big.write_bytes(b"HEAD" + b"\xff" * 5000 + b"TAIL")
    text = tex.read_bounded(big, limit=1000)
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert len(text) <= 1000 + len("\n...\n")
    link = tmp_path / "link.log"
    link.symlink_to(big)
    assert tex.read_bounded(link) == ""
    assert tex.read_bounded(tmp_path / "missing.log") == ""
    assert tex.read_bounded(tmp_path) == ""


@pytest.mark.parametrize(
    ("code", "outcome", "reason"),
    [
        (11, Outcome.HYP_ERROR, "pdflatex (pass 1) failed"),
        (12, Outcome.HYP_ERROR, "bibtex failed"),
        (24, Outcome.TIMEOUT, "pdflatex (pass 3) timed out after 40 s"),
        (30, Outcome.HYP_ERROR, "no PDF was produced"),
        (77, Outcome.HYP_ERROR, "compile.sh exited 77"),
    ],
)
def test_the_exit_status_names_the_step(code, outcome, reason):
    assert tex.step_reason(code, 40) == (outcome, reason)


def test_a_compile_result_from_garbage_files(tmp_path):
    (tmp_path / "paper.log").write_bytes(b"\xff\xfe./paper.tex:3: Boom\x1b[2J\nl.3 \\x\n")
    (tmp_path / "pdfinfo.txt").write_bytes(b"\x00\x01\nPages: 3\n\xff")
    box = tex.TexBox(DockerSandboxSettings(), image="hypoforge-tex:test")
    run = RunResult(outcome=Outcome.HYP_ERROR, exit_code=13, out_dir=tmp_path, wall_seconds=1.5)
    result = box._compiled(run, tmp_path, "paper")
    assert result.ok is False and result.pdf is None and result.pages == 3
    assert result.errors == ["Boom (l.3: \\x)"]
    assert (result.outcome, result.reason) == (Outcome.HYP_ERROR, "pdflatex (pass 2) failed")


class FakeImages:
    def get(self, name):
        raise docker.errors.ImageNotFound(f"no such image: {name}")


class FakeClient:
    images = FakeImages()

    def ping(self):
        return True

    def info(self):
        return {}


def test_preflight_names_the_make_target():
    box = tex.TexBox(DockerSandboxSettings(), image="hypoforge-tex:abc", client=FakeClient())
    with pytest.raises(ImageMissing) as caught:
        box.preflight()
    assert str(caught.value) == "TeX image hypoforge-tex:abc is not built: run `make tex-image`"


def test_bad_arguments_are_config_errors(tmp_path):
    box = tex.TexBox(DockerSandboxSettings(), image="hypoforge-tex:abc", client=FakeClient())
    with pytest.raises(ConfigError, match="no LaTeX file"):
        box.compile(tmp_path, tmp_path / "out", main="../x.tex")
    with pytest.raises(ConfigError, match="no PDF at"):
        box.text(tmp_path / "none.pdf", tmp_path / "out")
    with pytest.raises(ConfigError, match="at most 50 pages"):
        box.render(Path("x.pdf"), tmp_path / "out", first=1, last=100)


class BuiltOnce:
    """An engine whose TeX image appears once ``build`` has run: the build ``ensure_image``
    injects instead of the real debootstrap."""

    def __init__(self, fails: bool = False) -> None:
        self.built: list[str] = []
        self.fails = fails
        client = self

        class Images:
            def get(self, name):
                if name not in client.built:
                    raise docker.errors.ImageNotFound(f"no such image: {name}")
                return type("Image", (), {"id": "sha256:feed"})()

        self.images = Images()

    def ping(self):
        return True

    def info(self):
        return {}

    def build(self, tag, progress):
        progress("[1/4] debootstrap bookworm (minbase)")
        if self.fails:
            raise InfraError(f"building the TeX image {tag} failed (exit 1): E: no network")
        progress(f"built {tag} in 1 s")
        self.built.append(tag)
        return tag


def test_a_missing_image_is_built_on_first_use_with_each_step_told():
    engine = BuiltOnce()
    box = tex.TexBox(DockerSandboxSettings(), image="hypoforge-tex:abc", client=engine)
    told: list[str] = []
    box.ensure_image(told.append, build=engine.build)
    assert engine.built == ["hypoforge-tex:abc"]
    assert told == [
        "building the TeX image hypoforge-tex:abc (first use: a few minutes)",
        "TeX image: [1/4] debootstrap bookworm (minbase)",
        "TeX image: built hypoforge-tex:abc in 1 s",
    ]
    told.clear()
    box.ensure_image(told.append, build=engine.build)  # present now: nothing is built again
    assert engine.built == ["hypoforge-tex:abc"] and told == []


def test_a_failed_build_is_an_infra_error_with_the_scripts_last_line():
    engine = BuiltOnce(fails=True)
    box = tex.TexBox(DockerSandboxSettings(), image="hypoforge-tex:abc", client=engine)
    with pytest.raises(InfraError, match=r"failed \(exit 1\): E: no network"):
        box.ensure_image(lambda line: None, build=engine.build)


def test_the_build_scripts_lines_stream_to_progress_and_its_exit_names_the_failure(
    tmp_path, monkeypatch
):
    (tmp_path / "build_tex.sh").write_text(
        'echo "[1/4] debootstrap for $1"\necho\necho "E: mirror unreachable" >&2\nexit 7\n'
    )
    monkeypatch.setattr(tex, "TEX_DIR", tmp_path)
    lines: list[str] = []
    with pytest.raises(InfraError) as caught:
        tex.build_tex_image("hypoforge-tex:t", progress=lines.append)
    assert lines == ["[1/4] debootstrap for hypoforge-tex:t", "E: mirror unreachable"]
    assert str(caught.value) == (
        "building the TeX image hypoforge-tex:t failed (exit 7): E: mirror unreachable"
    )
