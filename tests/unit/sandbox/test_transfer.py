"""Moving a job's files to a Ray node and its output back: the inputs arrive whole, and hostile
output (links, folders, devices' stand-ins, odd names, too much of it) never leaves the node
nor lands outside the job's folder on the driver."""

from __future__ import annotations

import os

import pytest

from sandbox import transfer
from sandbox.base import Job, Mount


def _job(tmp_path) -> Job:
    tmp_path.mkdir()
    code = tmp_path / "runner.py"
    code.write_text("print('hi')\n")
    job_dir = tmp_path / "in"
    (job_dir / "candidates").mkdir(parents=True)
    (job_dir / "job.json").write_text("{}")
    (job_dir / "candidates" / "candidate.py").write_text("def activation(x):\n    return x\n")
    return Job(
        key="a1-one-pass-0",
        command=["python3", "/hf/code/runner.py"],
        mounts=[
            Mount(source=code, target="/hf/code/runner.py"),
            Mount(source=job_dir, target="/hf/in"),
        ],
        out_dir=tmp_path / "out",
    )


def test_inputs_arrive_whole_under_a_fresh_folder(tmp_path):
    job = _job(tmp_path / "driver")
    placed = transfer.place_inputs(job, transfer.pack_inputs(job), tmp_path / "node")
    by_target = {m.target: m.source for m in placed.mounts}
    assert by_target["/hf/code/runner.py"].read_text() == "print('hi')\n"
    assert (by_target["/hf/in"] / "candidates" / "candidate.py").read_text().startswith("def")
    assert (by_target["/hf/in"] / "job.json").read_text() == "{}"
    assert placed.out_dir == tmp_path / "node" / "out" and not placed.out_dir.exists()
    assert all(m.source.is_relative_to(tmp_path / "node") for m in placed.mounts)
    assert placed.key == job.key and placed.limits == job.limits


def test_an_input_path_that_climbs_out_is_refused(tmp_path):
    job = _job(tmp_path / "driver")
    packed = transfer.pack_inputs(job)
    packed["/hf/in"]["../../escaped"] = b"x"
    with pytest.raises(ValueError, match="outside its folder"):
        transfer.place_inputs(job, packed, tmp_path / "node")
    assert not (tmp_path / "escaped").exists()


def test_only_plain_regular_files_travel_back(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"never")
    (out / "candidate.iris-s0.npy").write_bytes(b"logits")
    (out / "status.json").write_text("{}")
    (out / "link.npy").symlink_to(secret)  # a link to a host file
    (out / "nested").mkdir()
    (out / "nested" / "deep.npy").write_bytes(b"deep")
    (out / ".hidden").write_bytes(b"dot")
    (out / "bad name!").write_bytes(b"odd")
    os.mkfifo(out / "fifo")  # opening it would block a careless reader
    files = transfer.pack_output(out, max_bytes=1024, max_files=10)
    assert files == {"candidate.iris-s0.npy": b"logits", "status.json": b"{}"}


def test_output_beyond_the_budget_stays_behind(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(5):
        (out / f"f{i}").write_bytes(b"x" * 100)
    assert list(transfer.pack_output(out, max_bytes=250, max_files=10)) == ["f0", "f1"]
    assert list(transfer.pack_output(out, max_bytes=10_000, max_files=3)) == ["f0", "f1", "f2"]
    assert transfer.pack_output(tmp_path / "missing", 100, 10) == {}


def test_unpacking_writes_new_files_inside_the_folder_only(tmp_path):
    out = tmp_path / "out"
    hostile = {
        "ok.npy": b"1",
        "../escape": b"2",
        "/etc/passwd": b"3",
        "": b"4",
        "sub/dir.npy": b"5",
        "notbytes": "text",
    }
    transfer.unpack_output(hostile, out)  # type: ignore[arg-type]
    assert sorted(os.listdir(out)) == ["ok.npy"]
    assert not (tmp_path / "escape").exists()
    (out / "taken").symlink_to(tmp_path / "target")
    with pytest.raises(FileExistsError):  # never writes through an existing name or link
        transfer.unpack_output({"taken": b"x"}, out)
    assert not (tmp_path / "target").exists()


def test_unpacking_is_total_on_any_names_and_stays_in_its_folder(tmp_path):
    """Fuzz: whatever names and values a node returns, unpacking raises nothing, writes only
    plain names inside the folder, and packing reads back exactly those files."""
    import itertools

    from hypothesis import given, settings
    from hypothesis import strategies as st

    count = itertools.count()
    names = st.text(min_size=0, max_size=30) | st.sampled_from(["..", ".", "a/b", "/etc/x", "ok"])
    values = st.binary(max_size=64) | st.text(max_size=8) | st.none()

    # written inside the test, out of the conftest's reach: the profile's count is scaled here
    @settings(max_examples=2 * settings.default.max_examples, deadline=None)
    @given(files=st.dictionaries(names, values, max_size=8))
    def check(files: dict) -> None:
        root = tmp_path / str(next(count))
        out = root / "out"
        transfer.unpack_output(files, out)  # type: ignore[arg-type]
        written = sorted(os.listdir(out))
        assert all(transfer.NAME.fullmatch(n) for n in written)
        assert sorted(os.listdir(root)) == ["out"]  # nothing beside the folder
        expected = {
            n: v for n, v in files.items() if transfer.NAME.fullmatch(n) and isinstance(v, bytes)
        }
        assert transfer.pack_output(out, 10**6, 100) == expected

    check()
