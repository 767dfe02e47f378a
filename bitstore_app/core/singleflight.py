"""Coalesce concurrent calls for the same key into one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .per_process import PerProcess, ProcessLock

T = TypeVar("T")


class _Call:
    """One running call: its outcome, and an event made only once a second caller waits
    (a Future per call cost as much as the rest of a cache hit's bookkeeping)."""

    __slots__ = ("value", "error", "event")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.event: threading.Event | None = None


class SingleFlight:
    """Concurrent `do(key, work)` calls with the same key run `work` once; every caller gets
    its result, or its exception."""

    def __init__(self) -> None:
        # Calls led by the threads of this process: a forked child waits on none of them.
        self._calls: PerProcess[dict[str, _Call]] = PerProcess()
        self._lock = ProcessLock()

    def do(self, key: str, work: Callable[[], T]) -> T:
        lock = self._lock.get(threading.Lock)  # the lock itself: no Python-level `with` hooks
        with lock:
            calls = self._calls.get(dict)
            call = calls.get(key)
            leader = call is None
            if leader:
                call = calls[key] = _Call()
            elif call.event is None:
                call.event = threading.Event()
        if not leader:
            call.event.wait()
            if call.error is not None:
                raise call.error
            return call.value
        try:
            call.value = work()
            return call.value
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with lock:  # under the lock, no waiter can arrive after the event is read
                calls.pop(key, None)
                event = call.event
            if event is not None:
                event.set()
