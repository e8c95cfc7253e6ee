"""Throughput of a campaign on one machine.

1. Hypotheses screened per minute (one-pass, the real sandbox, the task's selection splits) at
   1..N workers, N = what `hypoforge doctor` would choose (or --workers N), as ratios to one
   worker. Goal: >= 0.8 x N up to the cores. With --executor ray the same on a Ray cluster
   (--ray-address, or one started here: a head and a second node), and the Ray overhead per
   job against the local pool at one worker. Goal: <= 1.15.
2. A round's wall time (a batch of 8: the proposer's and the critic's calls) against
   a local OpenAI-compatible test server that answers each chat call after 2 s, at LLM
   concurrency 1 and 8, through the real ChatOpenAI client and the campaign graph. The sandbox
   side is left out (an evaluator that answers at once), so the figure is the LLM half alone.
   Goal: >= 4x shorter at concurrency 8.

Run: .venv/bin/python benchmarks/throughput.py [--workers N] [--hypotheses M] [--delay S]
         [--executor local|ray] [--ray-address ADDRESS] [--skip-sandbox]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import ROOT  # noqa: F401 - puts the project on sys.path

from agents.llm import make_chat_model
from core.records import EvalReport, Outcome
from core.settings import CampaignSettings, LLMSettings, load_settings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit.budgets import get_budget
from graph.pool import fan_out
from hypoforge import campaign
from hypoforge.campaign import ROLES
from sandbox.base import Sandbox
from sandbox.capacity import default_workers
from sandbox.docker_sandbox import DockerSandbox
from sandbox.ray_sandbox import RaySandbox


def hypotheses(n: int) -> list[str]:
    return [
        f"import torch\n\ndef activation(x):\n    return x * torch.sigmoid({1 + k / 8:.3f} * x)\n"
        for k in range(n)
    ]


def screening(workers: int, sources: list[str], ray_address: str | None = None) -> float:
    """Hypotheses screened per minute with ``workers`` containers at once (on the Ray cluster
    at ``ray_address`` when given)."""
    settings = load_settings()
    sandbox: Sandbox = (
        DockerSandbox(settings.sandbox, workers=workers)
        if ray_address is None
        else RaySandbox(settings.sandbox, ray_address, workers=workers)
    )
    sandbox.preflight()
    ev = ActivationEvaluator(sandbox, settings.home, settings.sandbox.limits)
    try:
        ev.baselines(get_budget("one-pass"))  # cached: not part of the figure
        ev.evaluate(sources[0] + "# warm-up\n", "one-pass")  # the pool filled before timing
        failed: list[str] = []
        began = time.monotonic()
        fan_out(
            sources,
            lambda source, slot: lambda: ev.evaluate(source, "one-pass"),
            lambda source, report: failed.extend([] if report.status is Outcome.OK else [source]),
            workers,
        )
        wall = time.monotonic() - began
    finally:
        sandbox.close()
    if failed:
        raise SystemExit(f"{len(failed)} benchmark hypotheses failed: not a throughput figure")
    return len(sources) / wall * 60


class SlowServer:
    """An OpenAI-compatible endpoint that answers every chat call after ``delay`` seconds with
    a reply both the proposer and the critic can read (new code each time)."""

    def __init__(self, delay: float) -> None:
        self.calls = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "m", "object": "model"}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.calls += 1
                    k = outer.calls
                time.sleep(delay)
                text = (
                    f"IDEA: a gate of slope {k}\n```python\nimport torch\n\n"
                    f"def activation(x):\n    return x * torch.sigmoid({k}.0 * x)\n```\n"
                    '{"decision": "run", "reasons": "worth a try", "p_win": 0.5}'
                )
                usage = {"prompt_tokens": 50, "completion_tokens": 50, "total_tokens": 100}
                message = {"role": "assistant", "content": text}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._send(
                    {"id": f"c{k}", "object": "chat.completion", "created": 0, "model": "m",
                     "choices": [choice], "usage": usage}
                )  # fmt: skip

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class InstantEvaluator:
    """Scores nothing: every hypothesis gets the same report at once (trusted benchmark code,
    no hypothesis runs), so a round's time is its LLM calls."""

    description = "find a good activation function"
    static_problem = staticmethod(ActivationEvaluator.static_problem)

    def experiment_key(self, source: str, budget: str) -> str:
        return hashlib.sha256(f"{source}|{budget}".encode()).hexdigest()[:24]

    def behaviour(self, report: EvalReport) -> None:
        return None

    def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
        return EvalReport(
            task="activation", budget=budget, status=Outcome.OK, win_rate=0.5,
            harness_version="bench", code_sha="0", wall_seconds=0.0,
        )  # fmt: skip


def round_seconds(url: str, concurrency: int, batch: int) -> float:
    llm = LLMSettings(endpoint=url, model="m", max_concurrency=concurrency)
    models = {role: make_chat_model(llm, url, role) for role in ROLES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "camp"
        budgets = CampaignSettings(
            proposals=batch, batch=batch, screen_top_k=batch, full_top_k=0, confirm=False
        )
        campaign.create(folder, "activation", budgets)
        began = time.monotonic()
        campaign.run(
            folder,
            campaign.Services(InstantEvaluator(), models, retries=0, llm_concurrency=concurrency),
        )
        return time.monotonic() - began


def print_rates(where: str, rates: dict[int, float]) -> None:
    print(f"screening throughput ({where}), hypotheses at one-pass:")
    for w, rate in rates.items():
        print(
            f"  {w} worker(s): {rate:5.1f} screened/min, x{rate / rates[1]:.2f} of one worker "
            f"(goal >= {0.8 * w:.1f})"
        )


def ray_figures(sources: list[str], workers: int, address: str | None) -> None:
    """The Ray figures, on ``address`` or on a cluster of two nodes started here."""
    cluster = None
    if address is None:
        from ray.cluster_utils import Cluster

        node: dict[str, Any] = {"num_cpus": max(1, workers // 2), "object_store_memory": 2**28}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        cluster.add_node(**node)
        address = cluster.address
    try:
        ray_rates = {w: screening(w, sources, address) for w in range(1, workers + 1)}
    finally:
        if cluster is not None:
            cluster.shutdown()
    local_one = screening(1, sources)
    print_rates("Ray", ray_rates)
    print(
        f"Ray overhead per job at one worker: x{local_one / ray_rates[1]:.2f} of the local "
        "pool's time (goal <= 1.15)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = load_settings()
    parser.add_argument("--workers", type=int, default=default_workers(settings.sandbox.limits))
    parser.add_argument("--hypotheses", type=int, default=8)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--skip-sandbox", action="store_true")
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args()

    if not args.skip_sandbox:
        sources = hypotheses(args.hypotheses)
        if args.executor == "ray":
            ray_figures(sources, args.workers, args.ray_address)
        else:
            rates = {w: screening(w, sources) for w in range(1, args.workers + 1)}
            print_rates("local pool", rates)
    server = SlowServer(args.delay)
    try:
        one = round_seconds(server.url, 1, 8)
        eight = round_seconds(server.url, 8, 8)
    finally:
        server.httpd.shutdown()
    print(f"a round of 8 against an endpoint answering after {args.delay:g} s:")
    print(f"  concurrency 1: {one:5.1f} s")
    print(f"  concurrency 8: {eight:5.1f} s   x{one / eight:.2f} shorter (goal >= 4)")


if __name__ == "__main__":
    main()
