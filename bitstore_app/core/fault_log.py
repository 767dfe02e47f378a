"""Tracebacks of tier faults, logged once per tier and error type per interval.

A tier with a bug fails every call the same way: one traceback says it, thousands drown
the log. Repeats within `interval` seconds are counted and the next traceback says how many
were left out.
"""

from __future__ import annotations

import logging
import threading
import time


class FaultLog:
    """Log a fault's traceback the first time in each `interval` for its (tier, type)."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}
        self._left_out: dict[tuple[str, str], int] = {}

    def report(self, tier: object, exc: BaseException) -> None:
        """Log `exc`, raised inside `tier`, unless the same fault was logged lately."""
        key = (str(tier), type(exc).__qualname__)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._left_out[key] = self._left_out.get(key, 0) + 1
                return
            self._last[key] = now
            left_out = self._left_out.pop(key, 0)
            if len(self._last) > 10_000:  # tiers come and go: keep the memory bounded
                self._last = {key: now}
        more = f" ({left_out} more since the last report)" if left_out else ""
        self.logger.error(
            "tier %s failed with %s%s", key[0], key[1], more, exc_info=(type(exc), exc, None)
        )
