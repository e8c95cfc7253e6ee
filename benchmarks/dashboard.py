"""The dashboard on a big campaign: each page's time over HTTP, and the live feed's memory.

Fills a campaign folder (a temporary one unless ``--folder``) with ``--hypotheses`` hypotheses
(default 10,000: a realistic mix of stages, ladder rungs with their reports, lineage, flags,
known components, probes, code files), ``--events`` events and ``--spend`` spend rows (default
100,000 each) through the ledger's connection in one transaction, then:

1. times the read model's methods in this process (``hypoforge.web.data``: where the time goes);
2. starts the real server (``hypoforge serve DIR --port P`` in a subprocess) and times each
   page and part over HTTP: median and max of ``--requests`` requests, and the bytes;
3. holds the live feed (``/c/SLUG/live``, server-sent events) open for ``--feed-minutes``
   while a writer thread appends two events a second to the ledger and, every
   ``--change-seconds``, moves a selected hypothesis to screened with a result that puts it
   near the leaderboard's top; samples the server's RSS every ``--sample-seconds``: RSS at
   the start and the end and its slope. The feed is held by an HTTP client that refetches
   every part on each change as the page's script does, or, with ``--browser``, by the
   campaign page itself open in Debian's headless chromium (``tests/cdp.py``): then the
   browser's JavaScript heap (``Runtime.getHeapUsage``, also after a forced garbage
   collection at the start and the end), its processes' memory (PSS), the page's DOM size and
   its ``data-updates`` counter (live refreshes done) are sampled too, and the page's
   leaderboard is checked for the latest change.

The goal (issue 27): each page under 300 ms, memory flat while a browser keeps the live feed
open for ten minutes. Figures are printed; nothing is asserted.

    .venv/bin/python benchmarks/dashboard.py --feed-minutes 2
    .venv/bin/python benchmarks/dashboard.py --browser --feed-minutes 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.records import HypothesisRow  # noqa: E402
from core.settings import CampaignSettings  # noqa: E402
from hypoforge import campaign  # noqa: E402
from store.ledger import Ledger  # noqa: E402

AGENTS = ("proposer", "critic", "coder", "analyst", "orchestrator", "archive")
SANDBOXES = tuple(f"sandbox-{i}" for i in range(4))
DATASETS = ("iris", "wine", "digits", "breast", "moons", "circles", "blobs", "spiral")
STAGES = {  # stage -> share of hypotheses
    "screened": 0.25, "evaluated": 0.10, "pruned": 0.12, "duplicate": 0.08, "rejected": 0.10,
    "invalid": 0.07, "failed": 0.08, "vetoed": 0.03, "coded": 0.02, "probed": 0.02,
    "selected": 0.01, "proposed": 0.01, "needs_repair": 0.01,
}  # fmt: skip
FAILED_OUTCOMES = ("hyp_error", "timeout", "oom", "nonfinite", "invalid_result")
CODE = """import torch


def activation(x):
    # {idea}
    return x * torch.sigmoid({a:.3f} * x) + {b:.3f} * torch.tanh(x)
"""


# -- filling the folder -------------------------------------------------------------------------
def report_json(
    rng: random.Random, hid: str, budget: str, win: float, split_set: str, flags: list[str]
) -> str:
    """A report as the ledger keeps it (``EvalReport.model_dump_json``): 8 datasets, 3 seeds."""
    cells = {f"{d}-s{s}": round(rng.uniform(0.6, 0.99), 4) for d in DATASETS for s in range(3)}
    wins = {k: round(min(1.0, max(0.0, rng.gauss(win, 0.1))), 3) for k in cells}
    per = {
        d: {
            "candidate": round(rng.uniform(0.6, 0.99), 4),
            "baselines": {b: round(rng.uniform(0.6, 0.99), 4) for b in ("relu", "gelu", "silu")},
            "win_rate": round(rng.uniform(0, 1), 3),
        }
        for d in DATASETS
    }
    half = 0.08
    return json.dumps(
        {
            "task": "activation",
            "budget": budget,
            "status": "ok",
            "reason": "",
            "win_rate": win,
            "win_rate_ci": [max(0.0, win - half), min(1.0, win + half)],
            "comparisons": 72,
            "per_dataset": per,
            "flags": flags,
            "image": "hypoforge-sandbox:latest",
            "harness_version": "activation-7",
            "code_sha": hid,
            "wall_seconds": round(rng.uniform(20, 400), 1),
            "log_tail": "epoch 1 loss 0.4\n" * 60,
            "artifacts": None,
            "data_secret": "s1",
            "split_set": split_set,
            "splits_id": "abc",
            "cells": cells,
            "cell_win_rates": wins,
            "data_hashes": {d: "f" * 64 for d in DATASETS},
            "reach": None,
        }
    )


def fill(folder: Path, hypotheses: int, events: int, spend: int, seed: int = 0) -> str:
    """Write the campaign; return its id."""
    rng = random.Random(seed)
    info = campaign.create(
        folder,
        "activation",
        CampaignSettings(
            proposals=hypotheses + 1000, hours=72, tokens=10**9, price_per_million_tokens=3.0
        ),
    )
    cid = info.id
    ledger = Ledger(folder / "ledger.sqlite")
    db = ledger.db
    t0 = time.time() - 48 * 3600
    code_dir = folder / "hypotheses"
    code_dir.mkdir()
    names, weights = list(STAGES), list(STAGES.values())
    scored: list[str] = []
    rows: list[HypothesisRow] = []
    results: list[tuple] = []
    probes: list[tuple] = []
    per_round = 8
    db.execute("BEGIN")
    for i in range(hypotheses):
        rnd, k = divmod(i, per_round)
        hid = f"r{rnd}-{k}"
        stage = rng.choices(names, weights)[0]
        parent = rng.choice(scored[-200:]) if scored and rng.random() < 0.6 else None
        idea = (
            f"{rng.choice(['smooth', 'gated', 'scaled', 'clipped'])} blend {i}: "
            + "x" * rng.randint(20, 400)
        )
        fields: dict = {
            "campaign": cid, "id": hid, "round": rnd, "mode": rng.choice(["novel", "incremental"]),
            "idea": idea, "code_sha": hid, "stage": stage, "parent": parent,
            "verdict": "run", "p_win": round(rng.random(), 3),
        }  # fmt: skip
        if stage in ("screened", "evaluated"):
            one = round(rng.betavariate(5, 5), 3)
            flags = ["over the parameter budget"] if rng.random() < 0.03 else []
            fields |= {
                "outcome": "ok", "screen_win_rate": one, "rungs": {"one-pass": one},
                "predicted": round(min(1, max(0, one + rng.gauss(0, 0.1))), 3), "flags": flags,
            }  # fmt: skip
            results.append(("one-pass", hid, one, "selection", flags))
            if stage == "evaluated":
                short = round(min(1.0, one + rng.gauss(0.02, 0.05)), 3)
                fields["rungs"] = {"one-pass": one, "short": short}
                results.append(("short", hid, short, "selection", flags))
                if rng.random() < 0.3:
                    full = round(min(1.0, short + rng.gauss(0.0, 0.04)), 3)
                    fields["rungs"]["full"] = full
                    fields["full_win_rate"] = full
                    results.append(("full", hid, full, "selection", flags))
                kept = not flags and rng.random() < 0.3
                fields["kept"] = kept
                if kept:
                    held = round(min(1.0, max(0.0, short + rng.gauss(-0.05, 0.05))), 3)
                    fields["confirm_win_rate"] = held
                    fields["confirmation"] = "confirmed" if held > 0.55 else "not confirmed"
                    results.append(("full", hid, held, "confirmation", []))
            else:
                fields["kept"] = False
            if rng.random() < 0.02:
                fields["known"] = "close to SiLU"
                fields["citation"] = "Ramachandran et al. 2017"
            scored.append(hid)
        elif stage in ("pruned", "duplicate", "rejected", "vetoed"):
            fields["outcome"] = stage
            fields["reason"] = {
                "pruned": "ranked out of the top k",
                "duplicate": "behaves exactly like r0-1",
                "rejected": "the critic: this is ReLU again",
                "vetoed": "vetoed by ann",
            }[stage]
            if stage == "duplicate":
                fields["duplicate_of"] = f"{cid}/r0-1"
        elif stage in ("invalid", "failed"):
            fields["outcome"] = "invalid" if stage == "invalid" else rng.choice(FAILED_OUTCOMES)
            fields["reason"] = "the sandbox said: Traceback ... ValueError: shapes (3,) (4,)"
        if stage not in ("proposed", "rejected", "invalid"):
            fp = [round(rng.uniform(-3, 3), 4) for _ in range(64)]
            probes.append((cid, hid, hid, None, json.dumps(fp)))
        rows.append(HypothesisRow(**fields))
        (code_dir / f"{hid}.py").write_text(
            CODE.format(idea=idea[:60], a=rng.uniform(0.5, 2), b=rng.uniform(0, 0.3))
        )
    for r in rows:
        ledger.save(r)
    at = t0
    result_rows = []
    for n, (budget, hid, win, split_set, flags) in enumerate(results):
        at += 48 * 3600 / max(1, len(results))
        result_rows.append(
            (f"key{n}", cid, hid, budget, "ok", win,
             report_json(rng, hid, budget, win, split_set, flags), at)
        )  # fmt: skip
    db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", result_rows)
    db.executemany("INSERT INTO probes VALUES (?, ?, ?, ?, ?)", probes)
    # times: each hypothesis updated in order over the 48 hours
    db.executemany(
        "UPDATE hypotheses SET updated = ? WHERE campaign = ? AND id = ?",
        [(t0 + 48 * 3600 * i / len(rows), cid, r.id) for i, r in enumerate(rows)],
    )
    event_rows = [(cid, t0, "orchestrator", "start", json.dumps({"task": "activation"}))]
    kinds = ("verdict", "probe", "screen", "note", "duplicate", "rung", "confirmation")
    for i in range(events - 1):
        who = rng.choice(AGENTS + SANDBOXES)
        detail = {"id": rng.choice(rows).id, "text": "x" * rng.randint(20, 200), "n": i}
        if who == "critic":
            detail |= {"decision": "run", "reasons": "plausible and new", "p_win": 0.6}
        event_rows.append(
            (cid, t0 + 48 * 3600 * (i + 1) / events, who, rng.choice(kinds), json.dumps(detail))
        )
    db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", event_rows)
    spend_rows = [
        (cid, t0 + 48 * 3600 * i / spend, rng.randint(500, 5000), int(rng.random() < 0.1))
        for i in range(spend)
    ]
    db.executemany("INSERT INTO spend VALUES (?, ?, ?, ?)", spend_rows)
    tokens = sum(r[2] for r in spend_rows)
    launches = sum(r[3] for r in spend_rows)
    db.execute("INSERT INTO usage VALUES (?, ?, ?)", (cid, tokens, launches))
    for agent in ("proposer", "critic"):
        db.execute(
            "INSERT INTO directives (campaign, agent, text, who, created) VALUES (?, ?, ?, ?, ?)",
            (cid, agent, "prefer smooth functions", "ann", time.time()),
        )
    db.execute("COMMIT")
    ledger.close()
    report = folder / "report"
    report.mkdir()
    for name in ("progress.png", "reward.png", "lineage.png"):
        (report / name).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(20_000))
    return cid


# -- timing the read model ----------------------------------------------------------------------
def time_reader(folder: Path, best: str, repeat: int) -> list[tuple[str, float, float, int]]:
    from hypoforge.web.data import CampaignReader

    reader = CampaignReader(folder)
    calls = {
        "summary()": reader.summary,
        "version()": reader.version,
        "leaderboard()": reader.leaderboard,
        "win_rate_over_time()": reader.win_rate_over_time,
        "spend()": reader.spend,
        "reward_points()": reader.reward_points,
        "lineage()": reader.lineage,
        "not_run()": reader.not_run,
        "not_run_counts()": reader.not_run_counts,
        "events()": reader.events,
        "events(critic)": lambda: reader.events(agent="critic"),
        "agents_seen()": reader.agents_seen,
        "queue()": reader.queue,
        "directives()": reader.directives,
        f"hypothesis({best})": lambda: reader.hypothesis(best),
        "figures()": reader.figures,
    }
    out = []
    for name, call in calls.items():
        times = []
        size = 0
        for _ in range(repeat):
            t = time.perf_counter()
            found = call()
            times.append((time.perf_counter() - t) * 1000)
            size = len(found) if hasattr(found, "__len__") else 1
        out.append((name, statistics.median(times), max(times), size))
    return out


# -- the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, port: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-c", "from hypoforge.cli import main; main()",
        "serve", str(folder), "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start in 60 s")


def get(port: int, path: str) -> tuple[int, int, float]:
    """(status, bytes, milliseconds) of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    reply = conn.getresponse()
    body = reply.read()
    took = (time.perf_counter() - t) * 1000
    conn.close()
    return reply.status, len(body), took


def time_pages(
    port: int, paths: list[str], repeat: int
) -> list[tuple[str, int, float, float, int]]:
    out = []
    for path in paths:
        get(port, path)  # warm: templates compiled, caches filled
        runs = [get(port, path) for _ in range(repeat)]
        times = [r[2] for r in runs]
        out.append((path, runs[-1][0], statistics.median(times), max(times), runs[-1][1]))
    return out


def rss_kb(pid: int) -> int:
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss // 1024)
    except ImportError:
        pass
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def slope(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (kB) against time, in kB per minute."""
    if len(samples) < 2:
        return 0.0
    ts = [t / 60 for t, _ in samples]
    rs = [float(r) for _, r in samples]
    mt, mr = statistics.fmean(ts), statistics.fmean(rs)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (r - mr) for t, r in zip(ts, rs, strict=True)) / den if den else 0.0


class Writer(threading.Thread):
    """What a running campaign does to the ledger while the feed is held: two events a second
    and, every ``change_seconds``, a selected hypothesis screened with a win rate of 0.96 and
    up (each change higher: above all but a few of the filled ones), its result and its event,
    so the leaderboard's rows really change. ``changed`` lists the hypotheses moved, in order."""

    def __init__(self, folder: Path, cid: str, change_seconds: float) -> None:
        super().__init__(name="ledger-writer")
        self.folder, self.cid, self.change_seconds = folder, cid, change_seconds
        self.stop = threading.Event()
        self.written = 0
        self.changed: list[str] = []

    def run(self) -> None:
        from core.records import EvalReport, Stage

        ledger = Ledger(self.folder / "ledger.sqlite")
        rng = random.Random(1)
        waiting = [r for r in ledger.hypotheses(self.cid) if r.stage == Stage.SELECTED]
        next_change = time.monotonic() + self.change_seconds
        try:
            while not self.stop.wait(0.5):
                ledger.log(self.cid, "critic", "note", {"n": self.written, "text": "a note " * 10})
                self.written += 1
                if waiting and self.change_seconds > 0 and time.monotonic() >= next_change:
                    next_change += self.change_seconds
                    row = waiting.pop(0)
                    win = round(min(0.999, 0.96 + 0.002 * len(self.changed)), 3)
                    report = EvalReport.model_validate_json(
                        report_json(rng, row.id, "one-pass", win, "selection", [])
                    )
                    ledger.put_result(f"bench-{row.id}", self.cid, row.id, report)
                    ledger.save(
                        row.model_copy(
                            update={
                                "stage": Stage.SCREENED, "outcome": "ok",
                                "screen_win_rate": win, "rungs": {"one-pass": win},
                            }
                        )
                    )  # fmt: skip
                    ledger.log(self.cid, "orchestrator", "screen", {"id": row.id, "win": win})
                    self.changed.append(row.id)
        finally:
            ledger.close()


def sample_loop(
    minutes: float, every: float, sample: Callable[[float], None], wait: Callable[[float], None]
) -> None:
    """Call ``sample(seconds since the start)`` at 0, every ``every`` seconds and at the end;
    ``wait(seconds)`` passes the time between (sleeping, or handling a browser's events)."""
    start = time.monotonic()
    end = start + minutes * 60
    sample(0.0)
    while time.monotonic() < end:
        wait(min(every, max(0.0, end - time.monotonic())))
        sample(time.monotonic() - start)


def print_rss(title: str, samples: list[tuple[float, int]]) -> None:
    print(
        f"  {title}: start {samples[0][1] / 1024:.1f} MiB, end {samples[-1][1] / 1024:.1f} MiB; "
        f"slope {slope(samples):+.1f} kB/min over {len(samples)} samples, "
        f"{slope(samples[1:]):+.1f} kB/min after the first"
    )


def hold_feed(
    port: int,
    slug: str,
    folder: Path,
    cid: str,
    pid: int,
    minutes: float,
    every: float,
    change_seconds: float,
    parts: list[str],
) -> None:
    """Hold ``/c/SLUG/live`` open while a writer appends events and, as the page's script does,
    fetch every part again on each change (revalidating with its ETag); print the server's RSS,
    what came and how long each refresh took."""
    stop = threading.Event()
    changed = threading.Event()
    got = {"change": 0, "keepalive": 0, "bytes": 0, "304": 0, "200": 0}
    refreshes: list[float] = []

    def refresh() -> None:
        tags: dict[str, str] = {}
        while not stop.is_set():
            if not changed.wait(0.5):
                continue
            changed.clear()
            t = time.perf_counter()
            for path in parts:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                headers = {"Host": f"127.0.0.1:{port}"}
                if path in tags:
                    headers["If-None-Match"] = tags[path]
                conn.request("GET", path, headers=headers)
                reply = conn.getresponse()
                reply.read()
                got[str(reply.status)] = got.get(str(reply.status), 0) + 1
                if reply.getheader("etag"):
                    tags[path] = reply.getheader("etag") or ""
                conn.close()
            refreshes.append((time.perf_counter() - t) * 1000)

    def listen() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(
            f"GET /c/{slug}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        sock.settimeout(1.0)
        buf = b""
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            got["bytes"] += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"event: change"):
                    got["change"] += 1
                    changed.set()
                elif line.startswith(b": keepalive"):
                    got["keepalive"] += 1
        sock.close()

    writer = Writer(folder, cid, change_seconds)
    threads = [
        threading.Thread(target=listen, daemon=True),
        writer,
        threading.Thread(target=refresh, daemon=True),
    ]
    for t in threads:
        t.start()
    samples: list[tuple[float, int]] = []
    sample_loop(minutes, every, lambda at: samples.append((at, rss_kb(pid))), time.sleep)
    stop.set()
    writer.stop.set()
    for t in threads:
        t.join(timeout=10)
    print(
        f"\nlive feed held {minutes:g} min by an HTTP client; {writer.written} events written "
        f"(2 a second), {len(writer.changed)} hypotheses screened near the leaderboard's top"
    )
    print(
        f"  received: {got['change']} change events, {got['keepalive']} keepalives, "
        f"{got['bytes']} bytes"
    )
    print_rss("server RSS", samples)
    if refreshes:
        print(
            f"  page refreshes: {len(refreshes)} (every part, {got['200']} x 200, "
            f"{got['304']} x 304 not modified), median {statistics.median(refreshes):.0f} ms, "
            f"max {max(refreshes):.0f} ms"
        )
    print("  samples (s, MiB): " + ", ".join(f"{t:.0f}:{r / 1024:.1f}" for t, r in samples))


HEAP = "Runtime.getHeapUsage"
PAGE_STATE = """(() => {
  const rows = document.querySelectorAll('[data-part=leaderboard] tbody tr[data-hypothesis]');
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    updates: Number(document.body.dataset.updates || 0),
    nodes: document.getElementsByTagName('*').length,
    board: Array.from(rows, (r) => r.dataset.hypothesis),
    live: (document.getElementById('live-state') || {}).textContent || null,
    nav: nav ? [nav.responseEnd, nav.domContentLoadedEventEnd, nav.loadEventEnd] : null,
  };
})()"""


def tree_pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` and every process below it (a browser and its
    renderers: what they share counted once), in kB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
            total += next(int(x.split()[1]) for x in rollup if x.startswith("Pss:"))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, StopIteration):
            continue
    return total


def hold_browser(
    port: int,
    slug: str,
    folder: Path,
    cid: str,
    pid: int,
    minutes: float,
    every: float,
    change_seconds: float,
) -> None:
    """Open the campaign page in headless chromium and keep it open while a writer changes the
    ledger; sample the server's RSS, the browser's heap and RSS and the page's live refreshes."""
    from tests.cdp import Browser

    with Browser(timeout=60) as page:
        t = time.perf_counter()
        page.navigate(f"http://127.0.0.1:{port}/c/{slug}")
        opened = (time.perf_counter() - t) * 1000
        page.wait_for("document.getElementById('live-state').textContent === 'live'")
        assert page._proc is not None
        browser_pid = page._proc.pid
        first = page.evaluate(PAGE_STATE)
        page.send("HeapProfiler.collectGarbage")
        gc_start = page.send(HEAP)["usedSize"]
        writer = Writer(folder, cid, change_seconds)
        writer.start()
        server: list[tuple[float, int]] = []
        heap: list[tuple[float, int]] = []
        total: list[tuple[float, int]] = []
        nodes: list[tuple[float, int]] = []
        seen: list[tuple[float, int, str | None, list[str]]] = []

        def sample(at: float) -> None:
            state = page.evaluate(PAGE_STATE)
            server.append((at, rss_kb(pid)))
            heap.append((at, int(page.send(HEAP)["usedSize"]) // 1024))
            total.append((at, tree_pss_kb(browser_pid)))
            nodes.append((at, int(state["nodes"])))
            latest = writer.changed[-1] if writer.changed else None
            seen.append((at, int(state["updates"]), latest, state["board"]))

        try:
            sample_loop(minutes, every, sample, page._pump)
        finally:
            writer.stop.set()
            writer.join(timeout=30)
        latest = writer.changed[-1] if writer.changed else None
        caught_up = True
        if latest is not None:  # the writer has stopped: the page catches up with its last change
            try:
                page.wait_for(f"({PAGE_STATE}).board.includes({json.dumps(latest)})", timeout=15)
            except TimeoutError:
                caught_up = False
        last = page.evaluate(PAGE_STATE)
        page.send("HeapProfiler.collectGarbage")
        gc_end = page.send(HEAP)["usedSize"]
        errors, loads = list(page.errors), page.loads

    print(
        f"\nlive feed held {minutes:g} min by the campaign page in headless chromium; "
        f"{writer.written} events written (2 a second), {len(writer.changed)} hypotheses "
        f"screened near the leaderboard's top (one every {change_seconds:g} s)"
    )
    response, dom, load = first["nav"] or (0, 0, 0)
    print(
        f"  page opened in {opened:.0f} ms (response {response:.0f} ms, DOMContentLoaded "
        f"{dom:.0f} ms, load {load:.0f} ms after navigation start); live state {first['live']!r}"
    )
    print(
        f"  live refreshes the page did (data-updates): {last['updates']}; page loads "
        f"{loads} (no reload); console errors, exceptions, CSP violations: {len(errors)}"
    )
    board = last["board"]
    rank = board.index(latest) + 1 if latest in board else None
    shown = sum(1 for _, _, want, rows in seen if want is not None and want in rows)
    print(
        f"  leaderboard on the page at the end: the writer's last change {latest} at rank {rank} "
        f"of {len(board)} (top three {', '.join(board[:3])}){'' if caught_up else ', NOT SHOWN'}; "
        f"the latest change shown at {shown} of {sum(1 for s in seen if s[2])} samples "
        "taken after the first change"
    )
    print_rss("server RSS", server)
    print_rss("browser JS heap (used)", heap)
    print(
        f"  browser JS heap after a forced GC: start {gc_start / 2**20:.2f} MiB, "
        f"end {gc_end / 2**20:.2f} MiB"
    )
    print_rss("browser processes' PSS", total)
    print(
        f"  DOM elements: start {nodes[0][1]}, end {nodes[-1][1]}, max {max(n for _, n in nodes)}"
    )
    if errors:
        print("  page errors: " + "; ".join(errors[:5]))
    print(
        "  samples (s: server MiB / heap MiB / browser MiB / updates): "
        + ", ".join(
            f"{a:.0f}: {s / 1024:.1f}/{h / 1024:.1f}/{b / 1024:.0f}/{u[1]}"
            for (a, s), (_, h), (_, b), u in zip(server, heap, total, seen, strict=True)
        )
    )


# -- main ---------------------------------------------------------------------------------------
def table(title: str, head: tuple[str, ...], rows: list[tuple]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(_cell(r[i])) for r in rows)) for i, h in enumerate(head)]
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  " + "  ".join(_cell(v).ljust(w) for v, w in zip(r, widths, strict=True)))


def _cell(v: object) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hypotheses", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--spend", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=10, help="requests per page (median, max)")
    ap.add_argument("--feed-minutes", type=float, default=10.0)
    ap.add_argument("--sample-seconds", type=float, default=10.0)
    ap.add_argument("--folder", type=Path, help="fill this (new) folder instead of a temporary one")
    ap.add_argument(
        "--change-seconds",
        type=float,
        default=30.0,
        help="while the feed is held, screen a hypothesis near the top every so many seconds",
    )
    ap.add_argument(
        "--browser",
        action="store_true",
        help="hold the feed with the campaign page open in headless chromium (tests/cdp.py)",
    )
    ap.add_argument("--no-server", action="store_true", help="time the read model only")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp) / "big"
        t = time.perf_counter()
        cid = fill(folder, args.hypotheses, args.events, args.spend)
        size = (folder / "ledger.sqlite").stat().st_size
        print(
            f"filled {folder}: {args.hypotheses} hypotheses, {args.events} events, {args.spend} "
            f"spend rows, ledger {size / 2**20:.1f} MiB, in {time.perf_counter() - t:.1f} s"
        )
        from hypoforge.web.data import CampaignReader

        reader = CampaignReader(folder)
        best = reader.leaderboard(limit=1)[0].id
        rows = time_reader(folder, best, args.requests)
        table("read model, in process (ms)", ("call", "median", "max", "items"), rows)
        if args.no_server:
            return
        port = free_port()
        proc = start_server(folder, port)
        try:
            slug = reader.slug
            paths = ["/", f"/c/{slug}", f"/c/{slug}/h/{best}", f"/compare?a={slug}&b={slug}"]
            paths.append(f"/compare?a={slug}/{best}&b={slug}/{best}")
            from hypoforge.web.app import PARTS

            paths += [f"/c/{slug}/part/{name}" for name in PARTS]
            paths += [f"/c/{slug}/part/events?agent=critic", "/part/campaigns"]
            paths.append(f"/c/{slug}/files/progress.png")
            pages = time_pages(port, paths, args.requests)
            table(
                f"pages over HTTP, {args.requests} requests each (ms)",
                ("page", "status", "median", "max", "bytes"),
                pages,
            )
            slow = [p for p in pages if p[2] > 300]
            print(f"\npages over 300 ms (median): {', '.join(p[0] for p in slow) or 'none'}")
            if args.feed_minutes > 0 and args.browser:
                hold_browser(
                    port,
                    slug,
                    folder,
                    cid,
                    proc.pid,
                    args.feed_minutes,
                    args.sample_seconds,
                    args.change_seconds,
                )
            elif args.feed_minutes > 0:
                hold_feed(
                    port,
                    slug,
                    folder,
                    cid,
                    proc.pid,
                    args.feed_minutes,
                    args.sample_seconds,
                    args.change_seconds,
                    [f"/c/{slug}/part/{name}" for name in PARTS],
                )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
