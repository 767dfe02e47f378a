"""A short memory of the blobs a tier lacks, so a hot missing key does not hit it every time.

A "not found" answer is remembered for `ttl` seconds; `forget(uri)` (called on every tier when
a blob is written) drops that memory.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict

__all__ = ["NegativeCache"]

#: Caches, whose locks are re-created in a forked child (the lock may have been held).
_lock_holders: weakref.WeakSet = weakref.WeakSet()


class NegativeCache:
    """URIs a tier recently said it does not hold, each for `ttl` seconds (0: off); at most
    `size` of them, the oldest dropped first."""

    def __init__(self, ttl: float = 0.0, size: int = 10_000) -> None:
        self.ttl = float(ttl)
        self.size = size
        self._reset_state()
        _lock_holders.add(self)

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._forgets = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def __contains__(self, uri: str) -> bool:
        if not self.ttl:
            return False
        with self._lock:
            expiry = self._expiry.get(uri)
            if expiry is None:
                return False
            if expiry > time.monotonic():
                return True
            del self._expiry[uri]
            return False

    def generation(self) -> int:
        """Return a number that moves with every `forget`; pass it to `add`."""
        return self._forgets

    def add(self, uri: str, generation: int) -> None:
        """Remember that the URI is missing, unless a `forget` happened since `generation`
        (a write that raced with the read that missed)."""
        if not self.ttl:
            return
        with self._lock:
            if self._forgets != generation:
                return
            self._expiry.pop(uri, None)
            self._expiry[uri] = time.monotonic() + self.ttl
            while len(self._expiry) > self.size:
                self._expiry.popitem(last=False)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._forgets += 1
            self._expiry.pop(uri, None)

    def __reduce__(self):
        return NegativeCache, (self.ttl, self.size)


def _after_fork_in_child() -> None:
    for holder in list(_lock_holders):
        holder._reset_state()


os.register_at_fork(after_in_child=_after_fork_in_child)
