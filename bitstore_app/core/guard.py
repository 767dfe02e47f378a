"""Guards around one tier: a circuit breaker, and a short memory of the blobs it lacks.

`GuardedStore(store, breaker=..., negative_ttl=...)` wraps a tier. After `threshold`
consecutive "not available" answers the circuit opens and calls fail fast with
`CircuitOpen` for `cooldown` seconds; then one trial call goes through (half-open, other
calls still fail fast) and its answer closes or re-opens the circuit. A "not found" answer is
remembered for `negative_ttl` seconds, so a hot missing key does not hit the tier every time;
`forget(uri)` (called on every tier when a blob is written) drops that memory.

Breakers made with `shared_breaker(name, ...)` live per tier name and process: the composite
is rebuilt when the configuration changes, and the breaker's state carries over.
`states()` reports them for the admin and the metrics.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from .exceptions import NotFoundInStore, StoreNotAvailable
from .store import Store
from .wrapper import StoreWrapper

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "CircuitBreaker",
    "CircuitOpen",
    "GuardedStore",
    "NegativeCache",
    "reset",
    "shared_breaker",
    "states",
]

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"
STATES = (CLOSED, OPEN, HALF_OPEN)

_registry: weakref.WeakValueDictionary[str, CircuitBreaker] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
#: Objects holding a lock, re-created in a forked child (the lock may have been held).
_lock_holders: weakref.WeakSet = weakref.WeakSet()


class CircuitOpen(StoreNotAvailable):
    """The tier failed too often lately and is skipped until its cool-down ends."""


class CircuitBreaker:
    """Count consecutive failures of one tier and stop calling it for a while when they
    reach `threshold` (0: never). Failures are `StoreNotAvailable`; any answer, including
    "not found", is a success."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0, name: str = "") -> None:
        self.name = name
        self.configure(threshold, cooldown)
        self._reset_state()
        _lock_holders.add(self)

    def configure(self, threshold: int, cooldown: float) -> None:
        self.threshold = int(threshold)
        self.cooldown = float(cooldown)

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    def close(self) -> None:
        """Forget the failures: the next call goes through."""
        with self._lock:
            self.failures, self._opened_at, self._trial_running = 0, None, False

    @property
    def state(self) -> str:
        """closed, open, or half-open (the cool-down is over, or a trial call is running)."""
        with self._lock:
            if self._opened_at is None:
                return CLOSED
            if self._trial_running or self._cooldown_left() <= 0:
                return HALF_OPEN
            return OPEN

    def _cooldown_left(self) -> float:
        return self._opened_at + self.cooldown - time.monotonic()

    def call(self, work: Callable[[], T], store: object) -> T:
        """Run `work()` unless the circuit is open (then raise `CircuitOpen` at once)."""
        trial = self._admit(store)
        try:
            result = work()
        except NotFoundInStore:
            self._answered(trial, ok=True)
            raise
        except StoreNotAvailable:
            self._answered(trial, ok=False)
            raise
        except BaseException:
            self._answered(trial, ok=None)
            raise
        self._answered(trial, ok=True)
        return result

    def _admit(self, store: object) -> bool:
        """Return whether this call is the trial call; raise `CircuitOpen` to refuse it."""
        with self._lock:
            if self._opened_at is None:
                return False
            left = self._cooldown_left()
            if left <= 0 and not self._trial_running:
                self._trial_running = True
                return True
            if self._trial_running:
                reason = "circuit open: a trial request is running"
            else:
                reason = f"circuit open after {self.failures} failures, next try in {left:.1f} s"
        raise CircuitOpen(store, reason)

    def _answered(self, trial: bool, ok: bool | None) -> None:
        """Record an outcome: ok, failed, or None for an error that says nothing of the tier."""
        with self._lock:
            if trial:
                self._trial_running = False
                if ok:
                    self.failures, self._opened_at = 0, None
                elif ok is False:
                    self._opened_at = time.monotonic()
            elif self._opened_at is not None:
                return  # a call admitted before the circuit opened: the trial decides
            elif ok:
                self.failures = 0
            elif ok is False:
                self.failures += 1
                if self.threshold and self.failures >= self.threshold:
                    self._opened_at = time.monotonic()

    def __reduce__(self):
        if _registry.get(self.name) is self:
            return shared_breaker, (self.name, self.threshold, self.cooldown)
        return CircuitBreaker, (self.threshold, self.cooldown, self.name)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name or '?'} {self.state}, {self.failures} failures>"


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
            raise NotFoundInStore(self, uri)
        generation = self.misses.generation()
        try:
            return method(*args)
        except NotFoundInStore as exc:
            if type(exc) is NotFoundInStore:  # not InvalidDataFound: that is recorded each time
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


def shared_breaker(name: str, threshold: int = 5, cooldown: float = 30.0) -> CircuitBreaker:
    """Return this process's breaker for the tier `name`, made or re-configured as given."""
    with _registry_lock:
        breaker = _registry.get(name)
        if breaker is None:
            breaker = _registry[name] = CircuitBreaker(threshold, cooldown, name)
        else:
            breaker.configure(threshold, cooldown)
        return breaker


def states() -> dict[str, str]:
    """Return the state of each tier's shared breaker in this process, by tier name."""
    with _registry_lock:
        breakers = list(_registry.values())
    return {breaker.name: breaker.state for breaker in breakers}


def reset() -> None:
    """Close every shared breaker (tests, and an operator who knows a tier is back)."""
    with _registry_lock:
        breakers = list(_registry.values())
    for breaker in breakers:
        breaker.close()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for holder in list(_lock_holders):
        holder._reset_state()


os.register_at_fork(after_in_child=_after_fork_in_child)
