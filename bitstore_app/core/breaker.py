"""A circuit breaker per tier: stop calling a tier that keeps failing, for a while.

After `threshold` consecutive "not available" answers the circuit opens and calls fail fast
with `CircuitOpen` for `cooldown` seconds; then one trial call goes through (half-open, other
calls still fail fast) and its answer closes or re-opens the circuit.

Breakers made with `shared_breaker(name, ...)` live per tier name and process: the composite
is rebuilt when the configuration changes, and the breaker's state carries over.
`states()` reports them for the admin and the metrics.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

from .exceptions import NotFoundInStore, StoreNotAvailable
from .outcomes import SkipReason
from .per_process import PerProcess, ProcessLock

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "STATES",
    "CircuitBreaker",
    "CircuitOpen",
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
_registry_lock = ProcessLock()


class CircuitOpen(StoreNotAvailable):
    """The tier failed too often lately and is skipped until its cool-down ends."""

    skip_reason = SkipReason.CIRCUIT_OPEN


class _Counts:
    """A breaker's state in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False


class CircuitBreaker:
    """Count consecutive failures of one tier and stop calling it for a while when they
    reach `threshold` (0: never). Failures are `StoreNotAvailable`; any answer, including
    "not found", is a success."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0, name: str = "") -> None:
        self.name = name
        self.configure(threshold, cooldown)
        # A forked child starts with a closed circuit (and a free lock): its own calls decide.
        self._state = PerProcess()

    def configure(self, threshold: int, cooldown: float) -> None:
        self.threshold = int(threshold)
        self.cooldown = float(cooldown)

    @property
    def _now(self) -> _Counts:
        return self._state.get(_Counts)

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._now.failures

    def close(self) -> None:
        """Forget the failures: the next call goes through."""
        self._state.clear()

    @property
    def state(self) -> str:
        """closed, open, or half-open (the cool-down is over, or a trial call is running)."""
        now = self._now
        with now.lock:
            if now.opened_at is None:
                return CLOSED
            if now.trial_running or self._cooldown_left(now) <= 0:
                return HALF_OPEN
            return OPEN

    def _cooldown_left(self, now: _Counts) -> float:
        return now.opened_at + self.cooldown - time.monotonic()

    def call(self, work: Callable[[], T], store: object) -> T:
        """Run `work()` unless the circuit is open (then raise `CircuitOpen` at once)."""
        trial = self._admit(store)
        try:
            result = work()
        except NotFoundInStore:
            self._answered(trial, ok=True)
            raise
        except StoreNotAvailable as exc:
            # A call its tier's limits did not let through (a skip) says nothing of the tier.
            self._answered(trial, ok=None if getattr(exc, "skip_reason", None) else False)
            raise
        except BaseException:
            self._answered(trial, ok=None)
            raise
        self._answered(trial, ok=True)
        return result

    def _admit(self, store: object) -> bool:
        """Return whether this call is the trial call; raise `CircuitOpen` to refuse it."""
        now = self._now
        with now.lock:
            if now.opened_at is None:
                return False
            left = self._cooldown_left(now)
            if left <= 0 and not now.trial_running:
                now.trial_running = True
                return True
            if now.trial_running:
                reason = "circuit open: a trial request is running"
            else:
                reason = f"circuit open after {now.failures} failures, next try in {left:.1f} s"
        raise CircuitOpen(store, reason)

    def _answered(self, trial: bool, ok: bool | None) -> None:
        """Record an outcome: ok, failed, or None for an error that says nothing of the tier."""
        now = self._now
        with now.lock:
            if trial:
                now.trial_running = False
                if ok:
                    now.failures, now.opened_at = 0, None
                elif ok is False:
                    now.opened_at = time.monotonic()
            elif now.opened_at is not None:
                return  # a call admitted before the circuit opened: the trial decides
            elif ok:
                now.failures = 0
            elif ok is False:
                now.failures += 1
                if self.threshold and now.failures >= self.threshold:
                    now.opened_at = time.monotonic()

    def __reduce__(self):
        if _registry.get(self.name) is self:
            return shared_breaker, (self.name, self.threshold, self.cooldown)
        return CircuitBreaker, (self.threshold, self.cooldown, self.name)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name or '?'} {self.state}, {self.failures} failures>"


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
