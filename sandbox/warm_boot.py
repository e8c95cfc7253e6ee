"""The bootstrap of a warm container. Runs INSIDE the sandbox, mounted read-only at
``/hfwarm/boot.py``; standard library only, no hypoforge here.

It does what the interpreter start of a cold job does, ahead of time: Python up, the preload modules
imported (numpy, torch and torch's compiler stack, which ``torch.optim`` pulls in on first use).
Then it waits for its one job: the host writes ``/hf/out/.hf-go`` (by rename, so it is whole) once
it has put the job's files under ``/hf``. The bootstrap removes the go file and its own ready mark
before any job code runs, so the job's output folder holds only what the job writes, and runs the
job's command in this process as ``python3 -B SCRIPT ARGS`` or ``python3 -B -c CODE ARGS`` would:
a fresh ``__main__``, ``sys.argv``, ``sys.path[0]``, the same exit code (0, the ``SystemExit``
code, 1 after an uncaught exception, 130 after ``KeyboardInterrupt``). The runner it starts is the
task's own, with its curated builtins; nothing here touches the job's code or data.

The end differs in one place: after the steps of Python's exit a program can observe (joining
non-daemon threads, atexit handlers, flushing stdio and files left open), it leaves through
``os._exit``, skipping the teardown of every module (0.7 s with torch's compiler stack loaded) in a
container that is removed anyway. Just before, it writes the host's end line to stdout and stderr
and its exit code to ``/hf/out/.hf-exit`` (``announce``): the host then sees the end when the
container's last task is gone, without waiting for Docker's bookkeeping of the exit.

Usage: python3 -B /hfwarm/boot.py IDLE_SECONDS MODULE...
"""

import contextlib
import gc
import importlib
import importlib.machinery
import io
import json
import os
import sys
import threading
import time
import types
import weakref

GO = "/hf/out/.hf-go"  # written by the host: the job's command
READY = "/hf/out/.hf-ready"  # written here: the preload is done (the host may wait for it)
EXIT = "/hf/out/.hf-exit"  # written here at the end: the exit code
ACK = "/hf/out/.hf-ack"  # written by the host once it has seen the go file taken
POLL_SECONDS = 0.002
ACK_SECONDS = 60.0  # the longest wait for the host's acknowledgement of a taken job
HERE = os.path.abspath(__file__)


def preload(modules: list[str]) -> None:
    """Import what the job would import first. A module that fails is left for the job, which
    then fails on it as a cold start would."""
    environ, path = dict(os.environ), list(sys.path)
    for name in modules:
        with contextlib.suppress(Exception):  # the job's own import then reports it
            importlib.import_module(name)
    # What an import changed of the process's visible state goes back (torch's compiler stack
    # sets TORCHINDUCTOR_CACHE_DIR): the job starts with the container's environment.
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    # The preload's finalizers only undo in-process state (torch unregisters its 174 operator
    # libraries, 8 ms): like module teardown, they are left to the container's end. The job's own
    # finalizers and atexit handlers run as usual.
    for finalizer in list(weakref.finalize._registry):  # type: ignore[attr-defined]
        finalizer.atexit = False
    # Everything imported so far stays for the container's life: the collector need not walk it,
    # and what is tracked after this point is the job's own (see flush_open_files).
    gc.freeze()


def wait_for_job(idle_seconds: float) -> dict | None:
    """The host's order once it arrives, or None after ``idle_seconds`` without one."""
    with open(READY, "w"):
        pass
    deadline = time.monotonic() + idle_seconds
    while True:
        try:
            with open(GO, "rb") as f:
                order = json.loads(f.read())
        except FileNotFoundError:
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL_SECONDS)
            continue
        os.unlink(GO)  # taken: from here on the host counts the job as delivered
        with contextlib.suppress(FileNotFoundError):
            os.unlink(READY)
        # No job code runs before the host has seen the go file gone: a job that writes a go
        # file of its own cannot pass for one that was never delivered (and run again cold).
        acked_by = time.monotonic() + ACK_SECONDS
        while not os.path.lexists(ACK):
            if time.monotonic() > acked_by:  # the host is gone
                return None
            time.sleep(POLL_SECONDS)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ACK)
        return order


def fresh_main(attrs: dict) -> dict:
    """A new ``__main__`` module, as the interpreter makes for a script or ``-c``."""
    main = types.ModuleType("__main__")
    main.__dict__.update(attrs)
    sys.modules["__main__"] = main
    return main.__dict__


def run_order(order: dict) -> None:
    """Run the job's command in this process."""
    sys.argv = list(order["argv"])
    sys.dont_write_bytecode = True  # -B
    if order["mode"] == "code":
        sys.path[0] = ""
        code = compile(order["target"], "<string>", "exec", dont_inherit=True)
        namespace = fresh_main({"__builtins__": sys.modules["builtins"]})
    else:
        path = order["target"]
        sys.path[0] = os.path.dirname(path)
        with io.open_code(path) as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
        loader = importlib.machinery.SourceFileLoader("__main__", path)
        namespace = fresh_main(
            {
                "__builtins__": sys.modules["builtins"],
                "__file__": path,
                "__cached__": None,
                "__loader__": loader,
            }
        )
    exec(code, namespace)


def exit_code(exc: SystemExit) -> int:
    """The status Python exits with for ``exc``; a message is printed as Python prints it."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(2**63) <= code < 2**63 else 255
    sys.stderr.write(f"{code}\n")
    return 1


def report(exc: BaseException) -> None:
    """The traceback Python prints for an uncaught exception, without this file's frames."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == HERE:
        tb = tb.tb_next
    sys.excepthook(type(exc), exc.with_traceback(tb), tb)


def flush_open_files() -> None:
    """What module teardown would flush: files the job left open (frozen objects are the
    preload's, so the collector lists the job's objects only)."""
    for obj in gc.get_objects():
        if isinstance(obj, io.IOBase) and not obj.closed:
            with contextlib.suppress(Exception):  # teardown ignores these too
                obj.flush()


def announce(code: int, mark: str) -> None:
    """Tell the host the job is over: the host's end line on stdout and on stderr (once both are
    in the container's log, the log is complete), then the exit file with the code. The host
    uses them only once the container's cgroup holds no task; the code and the log are the
    job's own say either way, as a cold job's are."""
    line = f"{mark}\n".encode()
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.write(fd, line)
    with contextlib.suppress(OSError):
        with open(EXIT + ".tmp", "w") as f:
            f.write(str(code))
        os.replace(EXIT + ".tmp", EXIT)


def finish(code: int, mark: str, pid: int) -> None:
    """Python's exit, less the module teardown. Only the process the job started in announces
    the end: a child it forked that returns here exits without a word."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads
    except BaseException as exc:  # a KeyboardInterrupt here ends the wait
        report(exc)
    import atexit

    atexit._run_exitfuncs()
    flush_open_files()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 120  # what Python exits with when stdout cannot be flushed
    if os.getpid() == pid:
        announce(code, mark)
    os._exit(code)


def main() -> None:
    idle_seconds, modules = float(sys.argv[1]), sys.argv[2:]
    preload(modules)
    order = wait_for_job(idle_seconds)
    pid = os.getpid()
    if order is None:
        os._exit(0)  # nobody came: the host sees an idle container gone and starts another
    try:
        run_order(order)
        code = 0
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException as exc:  # uncaught in the job: report it, exit as Python does
        report(exc)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 1
    finish(code, order["end"], pid)


if __name__ == "__main__":
    main()
