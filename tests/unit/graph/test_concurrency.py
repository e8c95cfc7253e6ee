"""Concurrency on fakes: the pool's bound and contract, concurrent LLM calls and sandbox jobs in
a campaign, results recorded exactly once in any completion order, the same ledger as with one
worker, and token budgets never overshot by more than the stated bound."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from core.errors import InfraError
from core.records import Outcome
from graph.pool import fan_out
from hypoforge import campaign
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start


class Gauge:
    """Counts work in flight and remembers the most at once. With ``meet`` > 1, each piece of
    work that enters waits until ``meet`` are in flight at once (an event, not a delay), so a
    test sees the fan-out however slowly a busy machine starts the threads; the wait is capped
    so that a pool that never reaches the bound fails the test's assertion instead of hanging."""

    def __init__(self, meet: int = 0) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0
        self.meet = meet
        self.met = threading.Event()

    def __enter__(self) -> Gauge:
        self.enter()
        if not self.met.wait(30):
            self.met.set()  # the others need not wait too: the assertion on ``most`` fails
        return self

    def enter(self) -> None:
        """Count one more in flight, without waiting for the meeting point."""
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
            if self.now >= self.meet:
                self.met.set()

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


# -- the pool ---------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_fan_out_never_runs_more_than_its_bound_and_records_each_item_once(workers):
    gauge, main = Gauge(meet=workers), threading.get_ident()
    recorded: list[int] = []
    threads: set[int] = set()

    def start_(item: int, slot: int):
        assert threading.get_ident() == main and 1 <= slot <= workers

        def work() -> int:
            with gauge:  # the first ``workers`` wait for each other: the bound is reached
                return item * 10

        return work

    def done(item: int, result: int) -> None:
        threads.add(threading.get_ident())
        assert result == item * 10
        recorded.append(item)

    assert fan_out(range(12), start_, done, workers) == []
    assert sorted(recorded) == list(range(12))  # each once, in whatever order they finished
    assert gauge.most == workers  # reached, never exceeded
    assert threads == {main}  # results are recorded on the caller's thread only


def test_fan_out_records_in_completion_order():
    release = {i: threading.Event() for i in range(3)}
    recorded: list[int] = []

    def start_(item: int, slot: int):
        return lambda: release[item].wait(5) and item

    def done(item: int, result: int) -> None:
        recorded.append(item)
        if item > 0:
            release[item - 1].set()  # the next one finishes only after this one is recorded

    release[2].set()
    fan_out([0, 1, 2], start_, done, workers=3)
    assert recorded == [2, 1, 0]


def test_a_failure_stops_new_starts_and_the_running_work_is_recorded_first():
    """Item 0 fails while item 1 is still running; item 1 finishes only once the failure is
    known (``done`` raises it on the calling thread and then lets item 1 go), so no timing
    decides whether a third item could have started."""
    started: list[int] = []
    recorded: list[int] = []
    gate = threading.Event()

    def start_(item: int, slot: int):
        started.append(item)

        def work() -> int:
            if item != 0:
                assert gate.wait(30), "item 1 was never let go"
            return item

        return work

    def done(item: int, result: int) -> None:
        if item == 0:
            gate.set()  # item 1 may finish now: the failure below is already on this thread
            raise InfraError("engine down")
        recorded.append(item)

    with pytest.raises(InfraError, match="engine down"):
        fan_out(range(6), start_, done, workers=2)
    assert started == [0, 1]  # nothing new after the failure
    assert recorded == [1]  # the job in flight finished and was recorded before the raise


def test_a_failed_work_is_raised_once_the_work_in_flight_is_recorded():
    """The same contract when the work itself raises: item 0 raises only after item 1 has been
    recorded, and the round raises item 0's error rather than losing item 1."""
    recorded: list[int] = []
    gate = threading.Event()

    def start_(item: int, slot: int):
        def work() -> int:
            if item == 0:
                assert gate.wait(30), "item 1 was never recorded"
                raise InfraError("engine down")
            return item

        return work

    def done(item: int, result: int) -> None:
        recorded.append(item)
        gate.set()

    with pytest.raises(InfraError, match="engine down"):
        fan_out(range(2), start_, done, workers=2)
    assert recorded == [1]


def test_admit_stops_new_starts_and_returns_what_never_started():
    budget = {"left": 3}

    def start_(item: int, slot: int):
        budget["left"] -= 1
        return lambda: item

    left = fan_out(range(5), start_, lambda i, r: None, workers=2, admit=lambda: budget["left"] > 0)
    assert left == [3, 4]


# -- a campaign with several workers ------------------------------------------------------------


class SlowEvaluator(FakeEvaluator):
    """The fake evaluator, counting the jobs that overlap; with ``meet`` the first evaluations wait
    until that many run at once (so several workers are seen side by side), and each job then
    yields a random few milliseconds so the completion order varies."""

    def __init__(self, meet: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gauge = Gauge(meet)

    def evaluate(self, source: str, budget: str = "one-pass"):
        with self.gauge:
            time.sleep(random.uniform(0, 0.005))
            return super().evaluate(source, budget)

    def probe_many(self, sources, *, together=False):
        self.gauge.enter()  # a round's one probe call: counted, never waits for company
        try:
            time.sleep(random.uniform(0, 0.005))
            return super().probe_many(sources, together=together)
        finally:
            self.gauge.__exit__()


def _ledger_contents(folder, cid):
    ledger = Ledger(folder / "ledger.sqlite")
    rows = [r.model_dump(exclude={"campaign"}) for r in ledger.hypotheses(cid)]
    results = ledger.db.execute(
        "SELECT key, hypothesis FROM results WHERE campaign = ? ORDER BY key", (cid,)
    ).fetchall()
    tokens, launches = ledger.usage(cid)
    ledger.close()
    return rows, results, tokens, launches


@pytest.mark.slow
def test_several_workers_give_the_ledger_of_one_worker(tmp_path):
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 9)]
    seen = []
    for workers in (1, 3):
        folder, info = start(tmp_path / f"w{workers}", proposals=8, batch=4, full_top_k=2)
        ev = SlowEvaluator(meet=min(workers, 2))  # a stage of this campaign has 2 jobs or more
        campaign.run(folder, campaign.Services(ev, models(props), retries=0, workers=workers))
        seen.append((_ledger_contents(folder, info.id), ev))
    (one, ev1), (three, ev3) = seen
    assert one == three  # same rows, results, tokens and launches
    assert sorted(ev1.calls) == sorted(ev3.calls)  # each experiment ran once in both
    assert len(ev3.calls) == len(set(ev3.calls))
    assert ev1.gauge.most == 1 and 2 <= ev3.gauge.most <= 3  # several did run side by side


def test_an_infra_error_with_jobs_in_flight_keeps_what_finished(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=4, full_top_k=0)
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 5)]

    class Flaky(SlowEvaluator):
        def evaluate(self, source: str, budget: str = "one-pass"):
            report = super().evaluate(source, budget)
            if "2.0" in source:
                return report.model_copy(update={"status": Outcome.INFRA_ERROR})
            return report

    ev = Flaky()
    with pytest.raises(InfraError):
        campaign.run(folder, campaign.Services(ev, models(props), retries=0, workers=4))
    done = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    screened = [r.id for r in done if r.stage == "screened"]
    assert len(screened) == 3  # the three that finished are recorded, the failure is not
    ev2 = SlowEvaluator()
    campaign.run(folder, campaign.Services(ev2, models(props), retries=0, workers=4))
    failed = next(r for r in done if r.id not in screened)
    assert ev2.calls == [((folder / "hypotheses" / f"{failed.id}.py").read_text(), "one-pass")]


# -- concurrent LLM calls ----------------------------------------------------------------------


class SlowChat(FakeListChatModel):
    """A thread-safe fake chat model; the reply depends only on the prompt (so concurrent calls
    get the same replies as sequential ones). With ``meet``, the first calls wait until that
    many are in flight (see ``Gauge``)."""

    gauge: Any = Field(default_factory=Gauge)
    reply_for: object = None  # prompt -> reply

    def _call(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        with self.gauge:
            return self.reply_for(str(messages[-1].content))  # type: ignore[operator]


def _slow_models(meet: int = 0) -> dict:
    """The four roles; the proposer's and the critic's first calls meet ``meet`` at once (the
    coder and the analyst are asked one hypothesis at a time in these campaigns)."""

    def idea(prompt: str) -> str:
        k = int(hashlib.sha256(prompt.encode()).hexdigest()[:6], 16) % 97 + 1
        return proposal(f"x * torch.sigmoid({k}.0 * x)")

    run = '{"decision": "run", "reasons": "fine", "p_win": 0.6}'

    def chat(reply_for, meet: int = 0) -> SlowChat:
        return SlowChat(responses=["-"], gauge=Gauge(meet), reply_for=reply_for)

    return {
        "proposer": chat(idea, meet),
        "critic": chat(lambda p: run, meet),
        "coder": chat(lambda p: proposal("x * 2")),
        "analyst": chat(lambda p: "fine"),
    }


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_calls_of_a_round_fan_out_up_to_the_endpoints_bound(tmp_path, concurrency):
    folder, info = start(tmp_path, proposals=6, batch=6, full_top_k=0)
    chat = _slow_models(meet=concurrency)  # the first calls wait until the bound is reached
    campaign.run(
        folder, campaign.Services(FakeEvaluator(), chat, retries=0, llm_concurrency=concurrency)
    )
    for role in ("proposer", "critic"):
        gauge = chat[role].gauge
        assert gauge.calls == 6
        assert gauge.most == concurrency  # never above the bound, and it is reached
    assert len(Ledger(folder / "ledger.sqlite").hypotheses(info.id)) == 6


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_the_token_budget_is_overshot_by_at_most_the_calls_in_flight(tmp_path, concurrency):
    """The stated bound (README, Budgets): a call starts only while the tokens used are under the
    budget, so the overshoot is at most ``concurrency`` calls, each at most its prompt plus
    ``max_tokens``; here every call costs exactly ``per_call`` tokens."""
    from agents import llm

    budget = 100
    folder, info = start(tmp_path, proposals=40, batch=20, tokens=budget, full_top_k=0)
    chat = _slow_models()
    per_call = 30
    original = llm._tokens
    try:
        llm._tokens = lambda message: per_call  # type: ignore[assignment]
        state = campaign.run(
            folder, campaign.Services(FakeEvaluator(), chat, retries=0, llm_concurrency=concurrency)
        )
    finally:
        llm._tokens = original  # type: ignore[assignment]
    tokens, _ = Ledger(folder / "ledger.sqlite").usage(info.id)
    calls = sum(chat[r].gauge.calls for r in chat)
    assert tokens == calls * per_call
    assert budget <= tokens < budget + concurrency * per_call
    assert chat["proposer"].gauge.calls < 20  # the round stopped proposing when it was spent
    assert state["stop"].startswith("token budget reached")
