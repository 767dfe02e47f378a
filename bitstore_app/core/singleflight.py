"""Coalesce concurrent calls for the same key into one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

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
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def do(self, key: str, work: Callable[[], T]) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if leader:
                call = self._calls[key] = _Call()
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
            with self._lock:  # under the lock, no waiter can arrive after the event is read
                del self._calls[key]
                event = call.event
            if event is not None:
                event.set()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
