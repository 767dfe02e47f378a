"""Asking several tiers for one blob at once, while keeping their order's answer.

A composite with `concurrent` set starts the later tiers' requests while the first tier is
asked, then takes the answers in the configured order: a later tier's blob is used only
once every earlier tier has said it does not have it. The result is the one the sequential
pass would give, at the latency of the slowest tier up to the one that has the blob.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from . import trace
from .per_process import PerProcess
from .store import Store

#: Threads of a composite's probe pool when `concurrent=True`.
DEFAULT_THREADS = 32

Ask = Callable[[Store, str, trace.Fetch], Any]


class ProbePool:
    """The threads one composite asks its later tiers from: made on first use (with the
    size asked for then), and again in a forked or unpickled copy."""

    def __init__(self) -> None:
        self._executor: PerProcess[ThreadPoolExecutor] = PerProcess()

    def submit(self, threads: int, function: Callable, *args: Any) -> Future:
        executor = self._executor.get(lambda: ThreadPoolExecutor(threads, "bitstore-probe"))
        return executor.submit(function, *args)


def threads_for(concurrent: bool | int) -> int:
    """Return the probe pool's size for a composite's `concurrent` option."""
    return DEFAULT_THREADS if concurrent is True else int(concurrent)


def first_hit(
    stores: list[Store],
    key: str,
    result: trace.Fetch,
    ask: Ask,
    pool: ProbePool,
    threads: int,
    alone: Callable[[Store], bool],
) -> tuple[Store, Any] | None:
    """Return the first of `stores`, in their order, that has `key`, and its answer.

    `ask(store, key, fetch)` returns the answer or None and adds the attempt to `fetch`.
    The first store is asked in the calling thread; the others at once from `pool` (of
    `threads` threads), except those for which `alone(store)` is true (expensive sources):
    they are asked only when their turn comes. `result` receives the attempts of the stores
    up to the one that has the blob, in order, as the sequential pass records them; later
    answers are dropped.
    """
    futures = {
        id(store): pool.submit(threads, _ask_apart, ask, store, key)
        for store in stores[1:]
        if not alone(store)
    }
    try:
        for store in stores:
            future = futures.pop(id(store), None)
            answer, attempts = future.result() if future else _ask_apart(ask, store, key)
            result.attempts.extend(attempts)
            if answer is not None:
                return store, answer
        return None
    finally:
        for future in futures.values():
            future.cancel()  # not started yet: never sent


def _ask_apart(ask: Ask, store: Store, key: str) -> tuple[Any, list[trace.Attempt]]:
    """Ask one store, recording its attempt in a trace of its own (threads share none)."""
    scratch = trace.Fetch(uri=key)
    return ask(store, key, scratch), scratch.attempts
