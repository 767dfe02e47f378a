"""A short memory of the blobs a tier lacks, so a hot missing key does not hit it every time.

A "not found" answer is remembered for `ttl` seconds; `forget(uri)` (called on every tier when
a blob is written) drops that memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from .exceptions import NotFoundInStore
from .outcomes import SkipReason
from .per_process import PerProcess

__all__ = ["KnownMissing", "NegativeCache"]


class KnownMissing(NotFoundInStore):
    """The tier said moments ago that it does not hold the URI, so it was not asked again."""

    skip_reason = SkipReason.NEGATIVE_CACHE


class _Misses:
    """The remembered misses of one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expiry: OrderedDict[str, float] = OrderedDict()
        self.forgets = 0


class NegativeCache:
    """URIs a tier recently said it does not hold, each for `ttl` seconds (0: off); at most
    `size` of them, the oldest dropped first."""

    def __init__(self, ttl: float = 0.0, size: int = 10_000) -> None:
        self.ttl = float(ttl)
        self.size = size
        # A forked child starts with no memory of misses (and a free lock).
        self._state = PerProcess()

    @property
    def _now(self) -> _Misses:
        return self._state.get(_Misses)

    def __len__(self) -> int:
        return len(self._now.expiry)

    def __contains__(self, uri: str) -> bool:
        if not self.ttl:
            return False
        now = self._now
        with now.lock:
            expiry = now.expiry.get(uri)
            if expiry is None:
                return False
            if expiry > time.monotonic():
                return True
            del now.expiry[uri]
            return False

    def generation(self) -> int:
        """Return a number that moves with every `forget`; pass it to `add`."""
        return self._now.forgets

    def add(self, uri: str, generation: int) -> None:
        """Remember that the URI is missing, unless a `forget` happened since `generation`
        (a write that raced with the read that missed)."""
        if not self.ttl:
            return
        now = self._now
        with now.lock:
            if now.forgets != generation:
                return
            now.expiry.pop(uri, None)
            now.expiry[uri] = time.monotonic() + self.ttl
            while len(now.expiry) > self.size:
                now.expiry.popitem(last=False)

    def forget(self, uri: str) -> None:
        now = self._now
        with now.lock:
            now.forgets += 1
            now.expiry.pop(uri, None)

    def __reduce__(self):
        return NegativeCache, (self.ttl, self.size)
