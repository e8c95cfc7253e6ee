"""A bounded fan-out for the nodes: up to ``workers`` pieces of slow work (an LLM call, a
sandbox job) at once, everything else on the node's own thread.

Why a bounded pool inside a node rather than LangGraph ``Send`` branches or async nodes: the
ledger, not the graph state, is where results live, and a node is idempotent because it reads
the ledger and does only what is missing. Keeping that shape means one thread touches the
ledger, the archive and the checkpoint (SQLite and Chroma connections stay single-threaded);
worker threads only wait on an endpoint or a container. ``Send`` would add a branch, a state
merge and a checkpoint write per hypothesis without making the work any more concurrent, and
async nodes would need an async sandbox, ledger and chat client for the same effect.

``fan_out`` calls ``start(item, slot)`` on the calling thread just before an item's work begins
(it returns the work: a callable run on a worker thread) and ``done(item, result)`` on the
calling thread as each finishes, in completion order. ``admit()`` is asked before each start: a
budget that says no stops new starts; what runs finishes. An exception (from the work or from
``done``) also stops new starts; the work already running finishes and is recorded, then the
first exception is raised, so nothing finished is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def fan_out(
    items: Iterable[T],
    start: Callable[[T, int], Callable[[], R]],
    done: Callable[[T, R], None],
    workers: int,
    admit: Callable[[], bool] = lambda: True,
) -> list[T]:
    """Run every item's work, at most ``workers`` at a time; return the items never started
    (``admit`` said no, or an earlier failure stopped the round before them)."""
    todo = list(items)
    if workers <= 1:
        return _inline(todo, start, done, admit)
    failure: BaseException | None = None
    running: dict[Future[R], tuple[T, int]] = {}
    free = list(range(workers, 0, -1))  # slot numbers, 1-based, lowest first
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-worker") as pool:
        while todo or running:
            while todo and free and failure is None and admit():
                item, slot = todo.pop(0), free.pop()
                try:
                    work = start(item, slot)
                except BaseException as exc:  # re-raised once the others finish
                    failure = exc
                    free.append(slot)
                    break
                running[pool.submit(work)] = (item, slot)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item, slot = running.pop(future)
                free.append(slot)
                free.sort(reverse=True)
                try:
                    done(item, future.result())
                except BaseException as exc:  # re-raised once the others finish
                    failure = failure or exc
    if failure is not None:
        raise failure
    return todo


def _inline(
    todo: list[T],
    start: Callable[[T, int], Callable[[], R]],
    done: Callable[[T, R], None],
    admit: Callable[[], bool],
) -> list[T]:
    """One worker: the same contract on the calling thread (no pool, no threads)."""
    while todo and admit():
        item = todo.pop(0)
        done(item, start(item, 1)())
    return todo
