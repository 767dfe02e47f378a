"""State that belongs to one process: rebuilt after a fork, left out of a pickle.

Clients, connections, thread pools and locks do not survive a fork (a lock held by another
thread at fork time is never released in the child) and cannot be pickled. `PerProcess`
holds one such value; `ProcessLock` is a lock built the same way. One `os.register_at_fork`
hook resets them all in a forked child.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerProcess", "ProcessLock"]

T = TypeVar("T")

_UNSET: Any = object()
_live: weakref.WeakSet[PerProcess] = weakref.WeakSet()


class PerProcess(Generic[T]):
    """One value per process: `get(make)` returns it, calling `make()` on first use in this
    process (once, however many threads ask). A forked child and an unpickled copy start
    without it; a failed `make()` is not remembered."""

    def __init__(self) -> None:
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._value: T = _UNSET

    def get(self, make: Callable[[], T]) -> T:
        value = self._value
        if value is _UNSET:
            with self._lock:
                value = self._value
                if value is _UNSET:
                    value = self._value = make()
        return value

    def peek(self) -> T | None:
        """Return the value if this process has built it, else None."""
        value = self._value
        return None if value is _UNSET else value

    def clear(self) -> None:
        """Drop the value; the next `get` builds a new one."""
        with self._lock:
            self._value = _UNSET

    def discard(self, failed: T, change: Callable[[], bool] = lambda: True) -> bool:
        """Drop `failed` after `change()` agrees; return whether to try again.

        When several threads see one value fail, only the first applies `change`: the others
        find a value other than `failed` (or none) and just try again. `make` cannot run
        meanwhile, so nothing is built with what `change` is about to alter.
        """
        with self._lock:
            if self._value is not failed:
                return True
            if not change():
                return False
            self._value = _UNSET
            return True

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def __repr__(self) -> str:
        return f"<PerProcess {'empty' if self._value is _UNSET else type(self._value).__name__}>"


class ProcessLock(PerProcess[threading.Lock]):
    """A lock that a forked child and an unpickled copy get anew, free."""

    def __enter__(self) -> bool:
        return self.get(threading.Lock).__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self.get(threading.Lock).__exit__(*exc_info)


def _after_fork_in_child() -> None:
    for holder in list(_live):
        holder._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
