"""Refreshing a bucket object's time on a hit, so that a lifecycle rule removes what is cold.

A bucket cache level is bounded by the bucket's own lifecycle rule (expire objects some days
after their time), which bitstore cannot run: it keeps the time of what is read fresh
instead (S3: a copy of the object onto itself; GCS: its Custom-Time). A `Refresher` says
when a hit should refresh: when the object's time, where the tier's answer carries it, is
at least `interval` seconds old, and this process has not refreshed it within `interval`.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from .per_process import ProcessLock

#: Objects whose last refresh a process remembers; the oldest are forgotten first.
REMEMBERED = 100_000


class Refresher:
    """Decide, per object, whether a hit is due to refresh its time."""

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"touch_interval must be a positive number of seconds, not {interval}")
        self.interval = interval
        self._done: OrderedDict[str, float] = OrderedDict()
        self._lock = ProcessLock()

    def due(self, key: str, known: float | None = None) -> bool:
        """Return whether to refresh `key` now (`known`: its time as the tier reported it,
        seconds since the epoch), and if so note that it is being refreshed."""
        now = time.time()
        if known is not None and now - known < self.interval:
            return False
        with self._lock:
            last = self._done.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._note(key, now)
        return True

    def note(self, key: str) -> None:
        """Note that `key` was just given a new time (this process wrote it)."""
        with self._lock:
            self._note(key, time.time())

    def _note(self, key: str, when: float) -> None:
        self._done[key] = when
        self._done.move_to_end(key)
        if len(self._done) > REMEMBERED:
            self._done.popitem(last=False)

    def __getstate__(self) -> dict:
        return {"interval": self.interval}  # another process refreshes on its own

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["interval"])
