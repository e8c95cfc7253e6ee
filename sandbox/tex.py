"""LaTeX in the sandbox: the TeX image, a hardened compile job, and PDF text and pictures.

LaTeX written by a language model is untrusted input: TeX can read files, write files and, with
shell escape, run programs. Every call here runs one job in the hardened sandbox container
(``DockerSandbox``: no network, read-only root, no capabilities, non-root, memory, pids, output
and wall limits) on the TeX image, whose kpathsea is paranoid (``tex/texmf-hardening.cnf``: no
absolute or parent paths, no dot files, no shell escape, no mktex scripts). The paper folder is
mounted read-only and copied to the container's tmpfs; ``tex/compile.sh`` (trusted, mounted
read-only) runs the steps. Everything the container writes is untrusted too: it is read with
bounded reads, decoded with replacement, parsed by regexes, and nothing here raises on it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError, ImageMissing, InfraError
from core.records import Outcome
from core.settings import DockerSandboxSettings, Limits
from core.text import clean
from sandbox import build
from sandbox.base import Job, Mount, RunResult
from sandbox.docker_sandbox import DockerSandbox

TEX_DIR = Path(__file__).parent / "tex"
TEX_REPOSITORY = "hypoforge-tex"
RECIPE_FILES = ("build_tex.sh", "texmf-hardening.cnf")  # compile.sh is mounted, not baked in
COMPILE_SCRIPT = "/hf/tools/compile.sh"
PDF_IN = "/hf/in/doc.pdf"

READ_LIMIT = 1024 * 1024  # bytes of any file a container wrote that are ever read
TEXT_LIMIT = 512 * 1024  # bytes of a PDF's text that ``text`` returns at most
MAX_ERRORS, MAX_WARNINGS, MAX_CHKTEX = 10, 20, 50
LINE_LIMIT = 300  # characters of one reported error, warning or chktex line
MAX_RENDER_PAGES = 50

_MAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.tex")
_ERROR = re.compile(r"^(?:[^\s:]*:\d+: |! ?)(?!\s*==> Fatal error occurred)(.+)$")
_CONTEXT = re.compile(r"^l\.(\d+) ?(.*)$")
_WARNING = re.compile(r"^((?:LaTeX|Package \S+|Class \S+) Warning: .+)$")
_BOX = re.compile(r"^(Overfull|Underfull) \\[hv]box")
_CHKTEX = re.compile(r"^(\d+):(\d+):(\d+):(.*)$")
_PAGES = re.compile(r"^Pages:\s+(\d{1,7})\s*$", re.MULTILINE)
_STEPS = {1: "pdflatex (pass 1)", 2: "bibtex", 3: "pdflatex (pass 2)", 4: "pdflatex (pass 3)"}


# -- the image -----------------------------------------------------------------------------------
def recipe_hash() -> str:
    return build.recipe_hash(TEX_DIR, RECIPE_FILES)


def tex_tag() -> str:
    """The tag of the TeX image this checkout's recipe builds: a hash of the recipe files."""
    return f"{TEX_REPOSITORY}:{recipe_hash()}"


Progress = Callable[[str], None]


def build_tex_image(tag: str | None = None, progress: Progress | None = None) -> str:
    """Build the TeX image offline (debootstrap + Debian's TeX Live); return its tag.

    Needs root (debootstrap) and a running Docker engine. Without ``progress`` the build script
    writes to this terminal (``make tex-image``); with it, each line of the script's output goes
    to ``progress`` instead, so a command that shows a status line (or prints JSON) keeps its
    screen. Raises ``InfraError`` on failure, with the script's last line.
    """
    tag = tag or tex_tag()
    command = ["bash", str(TEX_DIR / "build_tex.sh"), tag]
    if progress is None:
        code = subprocess.run(command, check=False).returncode
        last = ""
    else:
        code, last = _streamed(command, progress)
    if code != 0:
        detail = f": {_bounded(last)}" if last else ""
        raise InfraError(f"building the TeX image {tag} failed (exit {code}){detail}")
    return tag


def _streamed(command: list[str], progress: Progress) -> tuple[int, str]:
    """Run ``command`` with each non-empty line of its output (stdout and stderr) passed to
    ``progress``; return its exit status and its last line."""
    last = ""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None  # stdout=PIPE
        for line in proc.stdout:
            if line.strip():
                last = line.strip()
                progress(last)
    return proc.returncode, last


def ensure_tex_image(settings: DockerSandboxSettings, progress: Progress | None = None) -> str:
    """The TeX image's tag, built first if this machine lacks it (the build's steps go to
    ``progress``, by default to stderr)."""
    box = TexBox(settings)
    try:
        box.ensure_image(progress or (lambda line: print(line, file=sys.stderr)))
    finally:
        box.close()
    return box.image


# -- reading what a container wrote (untrusted; never raises) -----------------------------------
def read_bounded(path: Path, limit: int = READ_LIMIT) -> str:
    """At most ``limit`` bytes of ``path`` as text (its head and tail when longer); "" when it
    is missing or unreadable. A symlink is never followed."""
    try:
        if path.is_symlink() or not path.is_file():
            return ""
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            if size <= limit:
                data = f.read(limit)
            else:  # a fatal error sits at the end of a long log
                head = f.read(limit // 2)
                f.seek(size - limit // 2)
                data = head + b"\n...\n" + f.read(limit // 2)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


def _bounded(line: str) -> str:
    s = " ".join(clean(line).split())
    return s if len(s) <= LINE_LIMIT else s[: LINE_LIMIT - 3] + "..."


def parse_log(text: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a pdflatex log. An error is its message with the ``l.NN`` context
    that follows it; warnings are LaTeX's, packages' and classes' (first line each), with the
    overfull and underfull boxes counted."""
    errors: list[str] = []
    warnings: list[str] = []
    boxes = {"Overfull": 0, "Underfull": 0}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if m := _ERROR.match(line):
            if len(errors) < MAX_ERRORS:
                errors.append(_bounded(m.group(1) + _context(lines[i + 1 : i + 8])))
        elif m := _WARNING.match(line):
            w = _bounded(m.group(1))
            if w not in warnings and len(warnings) < MAX_WARNINGS:
                warnings.append(w)
        elif m := _BOX.match(line):
            boxes[m.group(1)] += 1
    for kind, n in boxes.items():
        if n:
            warnings.append(f"{n} {kind.lower()} box{'es' if n > 1 else ''}")
    return errors, warnings


def _context(after: list[str]) -> str:
    for line in after:
        if m := _CONTEXT.match(line):
            return f" (l.{m.group(1)}: {m.group(2).strip()})"
    return ""


def parse_blg(text: str) -> list[str]:
    """bibtex's errors (``I couldn't open ...``, ``---line N of file ...``), bounded."""
    found = [
        _bounded(line)
        for line in text.splitlines()
        if line.startswith(("I couldn't", "I found no", "---line", "Illegal,", "Sorry"))
    ]
    return found[:MAX_ERRORS]


def parse_chktex(text: str) -> list[str]:
    """chktex's ``line:column:number:message`` lines as ``line N: message``, bounded."""
    found = []
    for line in text.splitlines():
        if m := _CHKTEX.match(line):
            found.append(_bounded(f"line {int(m.group(1))}: {m.group(4).strip()}"))
            if len(found) >= MAX_CHKTEX:
                break
    return found


def parse_pages(text: str) -> int | None:
    """The page count in pdfinfo's output; None when there is none."""
    m = _PAGES.search(text)
    return int(m.group(1)) if m else None


# -- the compile job -----------------------------------------------------------------------------
class Compiled(BaseModel):
    """What compiling one paper gave. Everything in it came out of the container: cleaned."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ok: bool  # a PDF was produced and every step succeeded
    pdf: Path | None
    pages: int | None
    errors: list[str]  # LaTeX's (and bibtex's) errors, with their l.NN context
    warnings: list[str]  # undefined references and citations, box counts, package warnings
    chktex: list[str]  # "line N: message"
    outcome: Outcome  # ok, hyp_error (a step failed), timeout, oom, disk_quota, infra_error
    reason: str
    seconds: float


def step_reason(exit_code: int | None, step_seconds: float) -> tuple[Outcome, str]:
    """What ``compile.sh``'s exit status means."""
    if exit_code is not None and 11 <= exit_code <= 14:
        return Outcome.HYP_ERROR, f"{_STEPS[exit_code - 10]} failed"
    if exit_code is not None and 21 <= exit_code <= 24:
        return Outcome.TIMEOUT, f"{_STEPS[exit_code - 20]} timed out after {step_seconds:g} s"
    return Outcome.HYP_ERROR, {
        2: "compile.sh: bad arguments",
        3: "the paper folder could not be copied",
        30: "no PDF was produced",
    }.get(exit_code or 0, f"compile.sh exited {exit_code}")


class TexBox:
    """pdflatex/bibtex/chktex/poppler in the hardened sandbox container (no network, read-only
    root, no capabilities, non-root, memory/pids/time limits), one job per call.

    ``text`` and ``render`` raise ``ConfigError`` with one line when the PDF cannot be read
    (corrupt, not a PDF, too slow to read): the PDF is the caller's input, not the machinery's
    fault. Sandbox trouble (Docker down, image missing) raises ``InfraError`` everywhere;
    ``compile`` reports a paper's failure as data in ``Compiled``.
    """

    def __init__(
        self,
        settings: DockerSandboxSettings,
        image: str | None = None,
        wall_seconds: float = 120,
        step_seconds: float = 40,
        memory_mb: int = 1024,
        client: Any = None,
    ) -> None:
        self.image = image or tex_tag()
        self.step_seconds = step_seconds
        self.limits = Limits(
            wall_seconds=wall_seconds,
            memory_mb=memory_mb,
            cpus=1.0,
            pids=64,
            tmpfs_mb=max(16, memory_mb // 4),  # the working copy, charged to the memory limit
            output_mb=64,
            output_files=MAX_RENDER_PAGES + 16,
            nofile=256,
        )
        tex_settings = settings.model_copy(update={"image": self.image, "warm": False})
        self.sandbox = DockerSandbox(tex_settings, client=client, workers=0)

    def preflight(self) -> None:
        """Raise ``ImageMissing`` when the TeX image is not built, ``SandboxUnavailable`` when
        Docker does not answer."""
        try:
            self.sandbox.preflight()
        except ImageMissing:
            raise ImageMissing(
                f"TeX image {self.image} is not built: run `make tex-image`"
            ) from None

    def ensure_image(self, notify: Progress, build: Callable[..., str] | None = None) -> None:
        """Like ``preflight``, but a missing TeX image is built first (a few minutes, once per
        recipe), its steps told to ``notify`` as they run, the way ``hypoforge paper`` and
        ``review`` show progress on their status line. ``build`` is ``build_tex_image`` unless
        a test gives its own. ``InfraError`` when the build fails, ``SandboxUnavailable`` when
        Docker does not answer."""
        try:
            self.preflight()
            return
        except ImageMissing:
            pass
        notify(f"building the TeX image {self.image} (first use: a few minutes)")
        (build or build_tex_image)(self.image, progress=lambda line: notify(f"TeX image: {line}"))
        self.preflight()

    def close(self) -> None:
        """Remove any container this box left behind."""
        self.sandbox.close()

    def _run(self, job: Job) -> RunResult:
        result = self.sandbox.run(job)
        if result.outcome is Outcome.INFRA_ERROR:
            self.preflight()  # a missing image or a stopped engine gets its own one line
            raise InfraError(f"the TeX job {job.key} could not run: {result.reason}")
        return result

    def compile(self, folder: Path, out_dir: Path, main: str = "paper.tex") -> Compiled:
        """Compile ``folder/main`` (pdflatex, bibtex, pdflatex twice) into ``out_dir`` (empty or
        new), then run chktex and pdfinfo on it. A paper's failure is data in the result."""
        if not _MAIN.fullmatch(main) or not (folder / main).is_file():
            raise ConfigError(f"no LaTeX file {main!r} in {folder}")
        job = Job(
            key="tex-compile",
            command=["bash", COMPILE_SCRIPT, main, str(max(1, int(self.step_seconds)))],
            mounts=[
                Mount(source=folder, target="/hf/paper"),
                Mount(source=TEX_DIR / "compile.sh", target=COMPILE_SCRIPT),
            ],
            out_dir=out_dir,
            limits=self.limits,
        )
        result = self._run(job)
        return self._compiled(result, out_dir, main.removesuffix(".tex"))

    def _compiled(self, result: RunResult, out_dir: Path, base: str) -> Compiled:
        errors, warnings = parse_log(read_bounded(out_dir / f"{base}.log"))
        errors += parse_blg(read_bounded(out_dir / f"{base}.blg"))[: MAX_ERRORS - len(errors)]
        pages = parse_pages(read_bounded(out_dir / "pdfinfo.txt"))
        pdf = out_dir / f"{base}.pdf"
        has_pdf = pdf.is_file() and not pdf.is_symlink()
        outcome, reason = result.outcome, result.reason
        if outcome is Outcome.HYP_ERROR:  # the script said which step failed
            outcome, reason = step_reason(result.exit_code, self.step_seconds)
        elif outcome is Outcome.OK and not has_pdf:
            outcome, reason = Outcome.HYP_ERROR, "no PDF was produced"
        return Compiled(
            ok=outcome is Outcome.OK and has_pdf,
            pdf=pdf if has_pdf else None,
            pages=pages,
            errors=errors,
            warnings=warnings,
            chktex=parse_chktex(read_bounded(out_dir / "chktex.txt")),
            outcome=outcome,
            reason=clean(reason),
            seconds=round(result.wall_seconds, 3),
        )

    def _pdf_job(self, key: str, pdf: Path, out_dir: Path, command: list[str]) -> None:
        """Run a poppler tool on ``pdf``; ``ConfigError`` when it fails on the PDF."""
        if not pdf.is_file():
            raise ConfigError(f"no PDF at {pdf}")
        limits = self.limits.model_copy(update={"wall_seconds": self.step_seconds})
        job = Job(
            key=key,
            command=command,
            mounts=[Mount(source=pdf, target=PDF_IN)],
            out_dir=out_dir,
            limits=limits,
        )
        result = self._run(job)
        if result.outcome is not Outcome.OK:
            detail = result.log_tail.strip().splitlines()[-1:] or [result.reason]
            raise ConfigError(_bounded(f"cannot read {pdf.name} ({result.outcome}): {detail[0]}"))

    def text(self, pdf: Path, out_dir: Path) -> str:
        """The text of an (untrusted) PDF, at most ``TEXT_LIMIT`` bytes of it, cleaned of
        controls. ``ConfigError`` (one line) when the PDF cannot be read."""
        out = "/hf/out/doc.txt"
        self._pdf_job("tex-text", pdf, out_dir, ["pdftotext", "-enc", "UTF-8", PDF_IN, out])
        text = read_bounded(out_dir / "doc.txt", TEXT_LIMIT)
        return clean(text.replace("\f", "\n"))

    def render(
        self, pdf: Path, out_dir: Path, first: int = 1, last: int = 1, dpi: int = 80
    ) -> list[Path]:
        """Pages ``first``..``last`` of an (untrusted) PDF as PNG files in ``out_dir``, in page
        order. ``ConfigError`` (one line) when the PDF cannot be read or the range is bad."""
        if not (1 <= first <= last and last - first < MAX_RENDER_PAGES and 10 <= dpi <= 300):
            raise ConfigError(
                f"pages {first}-{last} at {dpi} dpi: want 1 <= first <= last, at most "
                f"{MAX_RENDER_PAGES} pages, 10-300 dpi"
            )
        command = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(first), "-l", str(last)]
        self._pdf_job("tex-render", pdf, out_dir, [*command, PDF_IN, "/hf/out/page"])
        pages = [p for p in out_dir.glob("page-*.png") if p.is_file() and not p.is_symlink()]
        return sorted(pages, key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
