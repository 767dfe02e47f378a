"""Where blobs were found: a memory of which tier served each key, so that a composite can
ask that tier first next time (see `Composite(index=...)`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from .per_process import ProcessLock


class LocationIndex:
    """A bounded map from a key to the name of the tier that served it last; the keys used
    least recently are dropped first. Safe to share between threads and composites."""

    def __init__(self, size: int = 100_000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.size = size
        self._tiers: OrderedDict[str, str] = OrderedDict()
        # A forked child keeps the entries (a preloaded index serves every worker) but gets a
        # free lock: another thread of the parent may have held it.
        self._guard = ProcessLock()

    def __len__(self) -> int:
        return len(self._tiers)

    def get(self, key: str) -> str | None:
        """Return the name of the tier that served `key` last, or None."""
        with self._guard:
            tier = self._tiers.get(key)
            if tier is not None:
                self._tiers.move_to_end(key)
            return tier

    def remember(self, key: str, tier: str) -> None:
        """Record that `tier` serves `key`."""
        with self._guard:
            self._tiers[key] = tier
            self._tiers.move_to_end(key)
            if len(self._tiers) > self.size:
                self._tiers.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._guard:
            self._tiers.pop(key, None)

    def load(self, locations: Iterable[tuple[str, str]]) -> None:
        """Remember many (key, tier) pairs, oldest first, as if they had been served so."""
        for key, tier in locations:
            self.remember(key, tier)

    def clear(self) -> None:
        with self._guard:
            self._tiers.clear()

    # A copy in another process starts empty: the index is this process's memory, and a
    # composite pickled for each task of a process pool must not carry it along.
    def __getstate__(self) -> dict:
        return {"size": self.size}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["size"])
