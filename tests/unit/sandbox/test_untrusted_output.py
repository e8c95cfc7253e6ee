"""What the host reads from a container, and what it shows of hypotheses' text, is bounded and
total: any bytes in, an ``ArtifactError`` or a value out; any text in, safe text out."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from core.records import EvalReport, Outcome
from core.text import cell, clean, shown
from hypoforge.console import print_eval
from sandbox.artifacts import ArtifactError, read_bytes, read_json, read_npy

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _npy(header: str, body: bytes = b"") -> bytes:
    head = header.encode()
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + body


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 3), }"), "holds"),
        (_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16), "plain"),
        (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "not allowed"),
        (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 3), "holds"),
        (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (10**9,), }"), "valid"),
        (_npy("[" * 500), "valid"),
        (b"\x93NUMPY\x09\x00", "version"),
        (b"not an array", "valid"),
    ],
    ids=["terabytes", "object", "negative", "short", "expression", "nested", "version", "text"],
)
def test_hostile_npy_headers_are_artifact_errors(tmp_path, raw, why):
    (tmp_path / "a.npy").write_bytes(raw)
    with pytest.raises(ArtifactError, match=why):
        read_npy(tmp_path, "a.npy", 1 << 20)


def test_a_real_array_still_reads_back(tmp_path):
    want = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", want)
    np.save(tmp_path / "f.npy", np.asfortranarray(want))
    assert np.array_equal(read_npy(tmp_path, "a.npy", 1 << 20), want)
    assert np.array_equal(read_npy(tmp_path, "f.npy", 1 << 20), want)


def test_deeply_nested_json_is_an_artifact_error(tmp_path):
    (tmp_path / "s.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_json(tmp_path, "s.json", 1 << 20)


def _array_or_error(reader, folder, name):
    """What ``reader`` gives: its value (an array of plain numbers for .npy) or its error."""
    try:
        got = reader(folder, name, 1 << 16)
    except ArtifactError as exc:
        return exc
    if name.endswith(".npy"):
        assert isinstance(got, np.ndarray) and got.dtype.kind in "biuf"
    return got


@FUZZ
@given(raw=st.binary(max_size=400))
def test_any_bytes_read_as_npy_give_an_array_or_an_artifact_error(tmp_path, raw):
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY" + raw)
    _array_or_error(read_npy, tmp_path, "x.npy")


@FUZZ
@given(
    shape=st.lists(st.integers(-3, 10**15), max_size=10),
    descr=st.sampled_from(
        ["<f4", "<f8", "|b1", "<i8", "|O", "<U3", "V8", "<c8", "[('a', '<f4')]", "<f4'"]
    ),
    fortran=st.booleans(),
    body=st.integers(0, 64),
)
def test_any_npy_header_gives_an_array_or_an_artifact_error(tmp_path, shape, descr, fortran, body):
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)}, }}"
    (tmp_path / "x.npy").write_bytes(_npy(header, b"\1" * body))
    got = _array_or_error(read_npy, tmp_path, "x.npy")
    if isinstance(got, np.ndarray):
        assert got.nbytes == body and list(got.shape) == shape


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(alphabet='[]{}":,0123456789aetrufnl ', max_size=300))
def test_any_bytes_read_as_json_give_a_value_or_an_artifact_error(tmp_path, raw):
    (tmp_path / "s.json").write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    got = _array_or_error(read_json, tmp_path, "s.json")
    assert isinstance(got, ArtifactError | dict | list | str | int | float | bool | None)


HOSTILE = "[/] [link=file:///etc/passwd]x[/link] [bold \x1b[2J\x1b]0;title\x07\r\x08\u202ecba"


def test_clean_removes_escapes_and_controls_and_keeps_the_words():
    assert clean(HOSTILE) == "[/] [link=file:///etc/passwd]x[/link] [bold cba"
    assert clean("line 1\n\tline 2") == "line 1\n\tline 2"


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.text())
def test_shown_text_prints_as_written_whatever_it_holds(text):
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(f"reason: {shown(text)}", highlight=False)
    console.print(cell(text))
    printed = console.file.getvalue()
    assert "\x1b" not in printed
    assert all(ord(c) >= 32 or c in "\n\t" for c in printed)


def test_a_report_whose_reason_and_log_hold_markup_prints_them_plainly():
    report = EvalReport(
        task="activation",
        budget="one-pass",
        status=Outcome.HYP_ERROR,
        reason=HOSTILE,
        log_tail="\x1b[31mred\x1b[0m [/]\n",
        harness_version="x",
        code_sha="y",
        wall_seconds=1.0,
    )
    assert "\x1b" not in report.reason and "\x1b" not in report.log_tail
    console = Console(file=io.StringIO(), width=200)
    print_eval(console, report)
    printed = console.file.getvalue()
    assert "[/] [link=file:///etc/passwd]x[/link]" in printed
    assert "red [/]" in printed


def _runner_loop():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "evaluators"))
    import runner_loop

    return runner_loop


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("import os\n", "import of os is not allowed here"),
        ("import torch.utils.cpp_extension as c\n", None),
        ("open('/etc/passwd')\n", "name 'open' is not defined"),
        ("getattr(1, 'real')\n", "name 'getattr' is not defined"),
        ("import numpy.ctypeslib\n", "import of numpy.ctypeslib"),
    ],
)
def test_the_runner_runs_hypothesis_code_with_curated_builtins(tmp_path, source, error):
    loop = _runner_loop()
    path = tmp_path / "h.py"
    path.write_text(source + "def f(x):\n    return x\n")
    if error is None:
        loop.load(path, "f")  # a part of an allowed package: handed out (second line only)
        return
    with pytest.raises((ImportError, NameError), match=error):
        loop.load(path, "f")


def test_keyboard_interrupt_is_the_candidates_error_not_the_runners(tmp_path):
    loop = _runner_loop()
    (tmp_path / "in" / "candidates").mkdir(parents=True)
    (tmp_path / "in" / "job.json").write_text(json.dumps({"candidates": ["a", "b"]}))
    np.savez(tmp_path / "d.npz", x=np.zeros(1))
    (tmp_path / "out").mkdir()

    def one(name, path, job, data, out, stage):
        if name == "a":
            raise KeyboardInterrupt("stop")
        (out / "b.done").write_text("ok")

    code = loop.run_candidates(tmp_path / "in", tmp_path / "d.npz", tmp_path / "out", one)
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert code == 3
    assert status["a"]["error"] == "KeyboardInterrupt: stop"
    assert status["b"] == {"stage": "done"}


@pytest.mark.parametrize("reader", [read_npy, read_json, read_bytes])
def test_a_folder_or_a_fifo_at_an_artifacts_name_is_an_artifact_error(tmp_path, reader):
    """Code in the container can put a folder (or a FIFO) where the host expects a file: a
    reader says so as an ArtifactError, never IsADirectoryError, and never waits on a FIFO."""
    (tmp_path / "a.npy").mkdir()
    os.mkfifo(tmp_path / "b.npy")
    for name in ("a.npy", "b.npy"):
        with pytest.raises(ArtifactError, match="not a regular file"):
            reader(tmp_path, name, 1000)
