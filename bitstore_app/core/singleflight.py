"""Coalesce concurrent calls for the same key into one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from .per_process import PerProcess, ProcessLock

T = TypeVar("T")


class SingleFlight:
    """Concurrent `do(key, work)` calls with the same key run `work` once; every caller gets
    its result, or its exception."""

    def __init__(self) -> None:
        # Calls led by the threads of this process: a forked child waits on none of them.
        self._calls: PerProcess[dict[str, Future]] = PerProcess()
        self._lock = ProcessLock()

    def do(self, key: str, work: Callable[[], T]) -> T:
        with self._lock:
            calls = self._calls.get(dict)
            future = calls.get(key)
            leader = future is None
            if leader:
                future = calls[key] = Future()
        if not leader:
            return future.result()
        try:
            result = work()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                calls.pop(key, None)
