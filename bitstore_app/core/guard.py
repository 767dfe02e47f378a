"""A tier behind its circuit breaker (`breaker.py`) and its negative cache
(`negative_cache.py`).

`GuardedStore(store, breaker=..., negative_ttl=...)` wraps a tier: calls go through the
breaker, and a "not found" answer is remembered for `negative_ttl` seconds.
The breaker's and the negative cache's names are re-exported here, where they used to live.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from . import breaker
from .breaker import *  # noqa: F403 - re-exported where they used to live
from .breaker import CircuitBreaker
from .exceptions import InvalidDataFound, NotFoundInStore
from .negative_cache import KnownMissing, NegativeCache
from .store import Store
from .wrapper import StoreWrapper

__all__ = [*breaker.__all__, "GuardedStore", "NegativeCache"]

T = TypeVar("T")


class GuardedStore(StoreWrapper):
    """A tier behind a circuit breaker and a negative cache; it answers to the tier's name.

    Attributes it does not define (`verify`, `base_store`, ...) are read from the tier.
    """

    def __init__(
        self,
        store: Store,
        *,
        breaker: CircuitBreaker | None = None,
        negative_ttl: float = 0.0,
        negative_size: int = 10_000,
    ) -> None:
        super().__init__(store)
        self.breaker = breaker if breaker is not None else CircuitBreaker(0, name=str(store))
        self.misses = NegativeCache(negative_ttl, negative_size)

    def around(self, call: Callable[[], T]) -> T:
        return self.breaker.call(call, self)

    def get(self, uri: str) -> bytes:
        return self._read(uri, super().get, uri)

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return self._read(uri, super().open, uri, start, end)

    def _read(self, uri: str, method: Callable[..., T], *args: Any) -> T:
        if uri in self.misses:
            raise KnownMissing(self, uri)
        generation = self.misses.generation()
        try:
            return method(*args)
        except InvalidDataFound:
            raise  # not remembered: a tier holding bad bytes is recorded each time
        except NotFoundInStore:
            self.misses.add(uri, generation)
            raise

    def exists(self, uri: str) -> bool:
        if uri in self.misses:
            return False
        generation = self.misses.generation()
        found = super().exists(uri)
        if not found:
            self.misses.add(uri, generation)
        return found

    def put(self, uri: str, data: bytes) -> None:
        super().put(uri, data)
        self.forget(uri)

    def put_or_raise(self, uri: str, data: bytes) -> None:
        """Write through the tier's raising writer (caches swallow errors in `put`)."""
        super().put_or_raise(uri, data)
        self.forget(uri)

    def forget(self, uri: str) -> None:
        self.misses.forget(uri)
        super().forget(uri)

    def __repr__(self) -> str:
        return f"<GuardedStore {self} {self.breaker.state}>"
