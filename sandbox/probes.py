"""The adversarial catalogue: small hostile programs with the outcome a safe sandbox must give.

Numbers follow the catalogue in the project's sandbox research notes (CPU cases). Each probe runs
as ``python3 -c CODE`` in a fresh container. A probe passes when the outcome is the expected one,
the expected marker (printed by the probe when the attack failed) is in its log, and the host-side
check finds the host unaffected. Used by ``hypoforge sandbox check`` and by the integration tests.
"""

from __future__ import annotations

from core.records import Outcome
from sandbox.probe_checks import (
    RELAUNCH_MARK,
    SECRET_NAME,
    SECRET_VALUE,
    Attack,
    beacon_stopped,
    log_capped,
    no_relaunched_processes,
    pids_bounded,
    program,
    within,
)

__all__ = ["PROBES", "SECRET_NAME", "SECRET_VALUE", "Attack"]

PROBES: tuple[Attack, ...] = (
    Attack(
        1,
        "fork bomb",
        program("""
        import os, time
        n = 0
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(1000)
                    os._exit(0)
                n += 1
            except OSError:
                print("FORK-LIMIT", n, flush=True)
                time.sleep(1000)
        """),
        Outcome.TIMEOUT,
        "FORK-LIMIT",
        {"pids": 64},
        pids_bounded(64),
        quick=True,
    ),
    Attack(
        2,
        "thread bomb",
        program("""
        import threading, time
        n = 0
        try:
            while True:
                threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
                n += 1
        except RuntimeError:
            print("THREAD-LIMIT", n, flush=True)
        time.sleep(1000)
        """),
        Outcome.TIMEOUT,
        "THREAD-LIMIT",
        {"pids": 64},
        pids_bounded(64),
    ),
    Attack(
        3,
        "self-relaunch",
        program(f"""
        import subprocess, sys, time
        CODE = ("import subprocess, sys, time  # {RELAUNCH_MARK}\\n"
                "try:\\n subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[1]])\\n"
                "except Exception: pass\\ntime.sleep(1000)\\n")
        subprocess.Popen([sys.executable, "-c", CODE, CODE])
        print("RELAUNCHED", flush=True)
        time.sleep(1000)
        """),
        Outcome.TIMEOUT,
        "RELAUNCHED",
        {"pids": 64},
        no_relaunched_processes,
    ),
    Attack(
        4,
        "detach and daemonize",
        program("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    with open("/hf/out/beacon", "a") as f:
                        f.write("x")
                    time.sleep(0.05)
            os._exit(0)
        time.sleep(0.3)
        print("PARENT-EXIT", flush=True)
        """),
        Outcome.OK,
        "PARENT-EXIT",
        {},
        beacon_stopped,
    ),
    Attack(
        5,
        "RAM bomb",
        program("""
        blocks = []
        while True:
            blocks.append(bytearray(32 * 2**20))
        """),
        Outcome.OOM,
        None,
        {"memory_mb": 256},
        within(2.0),
        quick=True,
    ),
    Attack(
        7,
        "/dev/shm exhaustion",
        program("""
        try:
            with open("/dev/shm/fill", "wb") as f:
                for _ in range(256):
                    f.write(b"x" * 2**20)
        except OSError as e:
            print("SHM-FULL", e.errno, flush=True)
        """),
        Outcome.OK,
        "SHM-FULL",
    ),
    Attack(
        8,
        "CPU spin",
        "while True:\n    pass\n",
        Outcome.TIMEOUT,
        None,
        {},
        within(2.5),
        quick=True,
    ),
    Attack(
        9,
        "ignore SIGTERM",
        program("""
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("IGNORING", flush=True)
        while True:
            pass
        """),
        Outcome.TIMEOUT,
        "IGNORING",
        {"grace_seconds": 1.0},
        within(3.5),
    ),
    Attack(
        10,
        "block forever",
        program("""
        import sys, time
        sys.stdin.read()
        print("STDIN-CLOSED", flush=True)
        time.sleep(1e9)
        """),
        Outcome.TIMEOUT,
        "STDIN-CLOSED",
        {},
        within(2.5),
    ),
    Attack(
        11,
        "fd exhaustion",
        program("""
        files = []
        while True:
            files.append(open("/dev/null"))
        """),
        Outcome.HYP_ERROR,
        "Too many open files",
    ),
    Attack(
        12,
        "fill /tmp",
        program("""
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(b"x" * 2**20)
        """),
        Outcome.HYP_ERROR,
        "No space left on device",
        {"tmpfs_mb": 16},
    ),
    Attack(
        13,
        "write to rootfs and inputs",
        program("""
        import errno
        denied = 0
        for path in ("/usr/evil", "/etc/passwd", "/hf/evil", "/root/evil", "/bin/sh"):
            try:
                open(path, "a").write("x")
            except OSError as e:
                denied += e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        print("RO-DENIED" if denied == 5 else f"WROTE {5 - denied}", flush=True)
        """),
        Outcome.OK,
        "RO-DENIED",
        quick=True,
    ),
    Attack(
        14,
        "single huge file",
        program("""
        with open("/hf/out/checkpoint.pt", "wb") as f:
            for _ in range(64):
                f.write(b"x" * 2**20)
        """),
        Outcome.DISK_QUOTA,
        None,
        {"output_mb": 16},
    ),
    Attack(
        15,
        "many files in the output folder",
        program("""
        for i in range(100000):
            with open(f"/hf/out/f{i}", "wb") as f:
                f.write(b"x" * 4096)
        """),
        Outcome.DISK_QUOTA,
        None,
        {"output_files": 200},
        within(1.0),
    ),
    Attack(
        17,
        "huge stdout",
        program("""
        import sys
        line = "y" * 1023 + "\\n"
        for _ in range(40 * 1024):
            sys.stdout.write(line)
        print("END-OF-FLOOD", flush=True)
        """),
        Outcome.OK,
        "END-OF-FLOOD",
        {"wall_seconds": 20.0},
        log_capped,
    ),
    Attack(
        18,
        "binary output",
        program("""
        import sys
        sys.stdout.buffer.write(bytes(range(256)) + b"\\xff\\xfe\\x80 BINARY-DONE\\n")
        """),
        Outcome.OK,
        "BINARY-DONE",
    ),
    Attack(
        19,
        "network egress",
        program("""
        import socket, urllib.request
        blocked = 0
        def attempt(fn):
            global blocked
            try:
                fn()
            except OSError:
                blocked += 1
        def tcp():
            socket.create_connection(("192.0.2.1", 80), timeout=2)
        def udp():
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))
        attempt(tcp)
        attempt(udp)
        attempt(lambda: socket.getaddrinfo("pypi.org", 443))
        attempt(lambda: urllib.request.urlopen("https://pypi.org/simple/", timeout=2))
        print("NET-BLOCKED" if blocked == 4 else f"NET-OPEN {4 - blocked}", flush=True)
        """),
        Outcome.OK,
        "NET-BLOCKED",
        quick=True,
    ),
    Attack(
        20,
        "cloud metadata and LAN",
        program("""
        import socket
        blocked = 0
        for addr in (("169.254.169.254", 80), ("172.17.0.1", 2375), ("10.0.0.1", 22)):
            try:
                socket.create_connection(addr, timeout=2)
            except OSError:
                blocked += 1
        print("LAN-BLOCKED" if blocked == 3 else "LAN-OPEN", flush=True)
        """),
        Outcome.OK,
        "LAN-BLOCKED",
    ),
    Attack(
        21,
        "read host secrets",
        program(f"""
        import os
        seen = "{SECRET_NAME}" in os.environ
        for path in ("/proc/1/environ", "/proc/self/environ"):
            try:
                seen = seen or b"{SECRET_VALUE}" in open(path, "rb").read()
            except OSError:
                pass
        homes = [p for p in ("/root/.docker", "/root/.aws", "/root/.ssh", "/home/runner")
                 if os.path.exists(p)]
        print("NO-SECRETS" if not seen and not homes else f"LEAK {{seen}} {{homes}}", flush=True)
        """),
        Outcome.OK,
        "NO-SECRETS",
        quick=True,
    ),
    Attack(
        22,
        "read other hypotheses' files",
        program("""
        import os
        visible = sorted(os.listdir("/hf"))
        host = [p for p in ("/work", "/root/.cache/hypoforge", "/var/lib/docker")
                if os.path.exists(p)]
        print("ISOLATED" if visible == ["out"] and not host else f"VISIBLE {visible} {host}")
        """),
        Outcome.OK,
        "ISOLATED",
    ),
    Attack(
        23,
        "privilege escalation",
        program("""
        import ctypes, os, socket
        status = open("/proc/self/status").read()
        capeff = [l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1]
        nnp = [l for l in status.splitlines() if l.startswith("NoNewPrivs:")][0].split()[1]
        denied = 0
        for attempt in (lambda: os.setuid(0),
                        lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                        lambda: os.chown("/tmp", 0, 0)):
            try:
                attempt()
            except (PermissionError, OSError):
                denied += 1
        libc = ctypes.CDLL(None, use_errno=True)
        mounted = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0
        ok = int(capeff, 16) == 0 and nnp == "1" and denied == 3 and not mounted
        print("PRIV-DENIED" if ok else f"PRIV {capeff} {nnp} {denied} {mounted}", flush=True)
        """),
        Outcome.OK,
        "PRIV-DENIED",
        quick=True,
    ),
    Attack(
        24,
        "Docker socket",
        program("""
        import os
        found = [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)]
        print("NO-SOCKET" if not found else f"SOCKET {found}", flush=True)
        """),
        Outcome.OK,
        "NO-SOCKET",
    ),
    Attack(
        25,
        "container escape probes",
        program("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
        blocked = 0
        blocked += libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0
        for path, data in (("/proc/sysrq-trigger", "h"), ("/sys/kernel/uevent_helper", "/x"),
                           ("/proc/sys/kernel/core_pattern", "|/x")):
            try:
                open(path, "w").write(data)
            except OSError:
                blocked += 1
        blocked += not os.path.exists("/dev/mem")
        print("ESCAPE-BLOCKED" if blocked == 5 else f"ESCAPE {blocked}", flush=True)
        """),
        Outcome.OK,
        "ESCAPE-BLOCKED",
    ),
)
