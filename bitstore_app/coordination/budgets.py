"""Monthly budgets per tier: requests and spend, counted per UTC calendar month.

Each call to a tier with a budget is admitted by one Lua script that checks the month's
counters against the budget and counts the request (and its price) in the same step, so
processes on any number of hosts share one budget and no request passes once it is spent.
A retry within a call (after a 503, say) is a request too: it is admitted the same way, or
not made (core/retry.py).
Bytes are priced after the call (their number is known then), so a month's spend can pass
its budget by what the calls in flight read, at most. A spent budget skips the tier (reason
`budget`) until the month ends or an operator raises the budget: the check compares with the
tier's budget of the moment.

Without Redis each process counts on its own (the admin says so); when Redis fails, calls go
through (see limits_down.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from ..core import StoreNotAvailable
from ..core.retry import admitting_retries
from ..core.store import Store
from ..core.wrapper import StoreWrapper, T
from ..costs import Prices
from . import limits_down
from .rate_limits import redis_url
from .redis_scripts import RedisScript

KEY_PREFIX = "bitstore:budget:"
#: Counters outlive their month by a few days, for the admin and the metrics.
KEEP_SECONDS = 40 * 24 * 3600

# Admit one request to KEYS[1] (the tier's counters of this month) unless its request
# budget ARGV[1] or spend budget ARGV[2] (-1: none) is spent; count it and its price ARGV[3].
ADMIT = """
local requests = tonumber(redis.call('HGET', KEYS[1], 'requests') or '0')
local spend = tonumber(redis.call('HGET', KEYS[1], 'spend') or '0')
local request_budget, spend_budget = tonumber(ARGV[1]), tonumber(ARGV[2])
if request_budget >= 0 and requests >= request_budget then return 0 end
if spend_budget >= 0 and spend >= spend_budget then return 0 end
redis.call('HINCRBY', KEYS[1], 'requests', 1)
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBYFLOAT', KEYS[1], 'spend', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
CHARGE = """
redis.call('HINCRBYFLOAT', KEYS[1], 'spend', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class BudgetSpent(StoreNotAvailable):
    """The tier's monthly budget is spent: it is skipped until the month ends or the budget
    is raised."""

    skip_reason = "budget"


@dataclass(frozen=True)
class Budget:
    """A tier's monthly budgets (None: none of that kind) and its prices."""

    requests: int | None = None
    spend: float | None = None
    prices: Prices = Prices()

    @property
    def limited(self) -> bool:
        return self.requests is not None or self.spend is not None


@dataclass(frozen=True)
class Usage:
    """A tier's counters for one month."""

    requests: int = 0
    spend: float = 0.0


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


class RedisCounters:
    """The months' counters in Redis, shared by every process that uses the same database."""

    shared = True

    def __init__(self, url: str) -> None:
        self._admit = RedisScript(url, ADMIT, timeout=5)
        self._charge = RedisScript(url, CHARGE, timeout=5)

    def admit(self, name: str, month: str, budget: Budget) -> bool:
        keys = [f"{KEY_PREFIX}{name}:{month}"]
        limits = [_limit_arg(budget.requests), _limit_arg(budget.spend)]
        return bool(self._admit(keys=keys, args=[*limits, budget.prices.per_request, KEEP_SECONDS]))

    def charge(self, name: str, month: str, amount: float) -> None:
        self._charge(keys=[f"{KEY_PREFIX}{name}:{month}"], args=[amount, KEEP_SECONDS])

    def usage(self, names: list[str], month: str) -> dict[str, Usage]:
        pipeline = self._admit.client().pipeline(transaction=False)
        for name in names:
            pipeline.hmget(f"{KEY_PREFIX}{name}:{month}", "requests", "spend")
        rows = pipeline.execute()
        return {
            name: Usage(int(requests or 0), float(spend or 0))
            for name, (requests, spend) in zip(names, rows, strict=True)
        }


class LocalCounters:
    """The months' counters in this process's memory: each process has its own budget."""

    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], list[float]] = {}

    def admit(self, name: str, month: str, budget: Budget) -> bool:
        with self._lock:
            counts = self._counts.setdefault((name, month), [0, 0.0])
            if budget.requests is not None and counts[0] >= budget.requests:
                return False
            if budget.spend is not None and counts[1] >= budget.spend:
                return False
            counts[0] += 1
            counts[1] += budget.prices.per_request
            return True

    def charge(self, name: str, month: str, amount: float) -> None:
        with self._lock:
            self._counts.setdefault((name, month), [0, 0.0])[1] += amount

    def usage(self, names: list[str], month: str) -> dict[str, Usage]:
        with self._lock:
            counts = {name: self._counts.get((name, month), [0, 0.0]) for name in names}
        return {name: Usage(int(c[0]), float(c[1])) for name, c in counts.items()}


def _limit_arg(limit: float | None) -> float:
    return -1 if limit is None else limit


_counters: dict[str | None, RedisCounters | LocalCounters] = {}
_counters_lock = threading.Lock()


def counters() -> RedisCounters | LocalCounters:
    """Return this process's counters: in Redis when there is one to share, else local."""
    url = redis_url()
    with _counters_lock:
        if url not in _counters:
            _counters[url] = RedisCounters(url) if url else LocalCounters()
        return _counters[url]


def usage(names: list[str]) -> dict[str, Usage] | None:
    """Return this month's counters of the tiers, or None when Redis cannot be read."""
    import redis

    try:
        return counters().usage(names, this_month())
    except redis.RedisError as exc:
        limits_down.failed("tier budgets", exc)
        return None


class BudgetedStore(StoreWrapper):
    """A tier whose calls are admitted by its monthly budgets, and whose bytes are priced."""

    def __init__(self, store: Store, budget: Budget) -> None:
        super().__init__(store)
        self.budget = budget

    def around(self, call: Callable[[], T]) -> T:
        self._admit()
        with admitting_retries(self._admit):
            return call()

    def _admit(self) -> None:
        import redis

        name = str(self)
        try:
            admitted = counters().admit(name, this_month(), self.budget)
        except redis.RedisError as exc:
            limits_down.failed(f"budget of {name}", exc)
            return
        limits_down.answered()
        if not admitted:
            raise BudgetSpent(name, self._spent())

    def _spent(self) -> str:
        budget = self.budget
        kinds = [f"{budget.requests:,} requests"] if budget.requests is not None else []
        kinds += [f"a spend of {budget.spend:g}"] if budget.spend is not None else []
        return (
            f"monthly budget ({' or '.join(kinds)}) spent: skipped until the month ends or "
            "the budget is raised"
        )

    def get(self, uri: str) -> bytes:
        data = super().get(uri)
        self._charge(self.budget.prices.spend(bytes_read=len(data)))
        return data

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        stream = super().open(uri, start, end)
        size = getattr(stream, "size", 0) or 0
        self._charge(self.budget.prices.spend(bytes_read=max(0, min(end or size, size) - start)))
        return stream

    def put(self, uri: str, data: bytes) -> None:
        super().put(uri, data)
        self._charge(self.budget.prices.spend(bytes_written=len(data)))

    def put_or_raise(self, uri: str, data: bytes) -> None:
        super().put_or_raise(uri, data)
        self._charge(self.budget.prices.spend(bytes_written=len(data)))

    def _charge(self, amount: float) -> None:
        if amount <= 0 or self.budget.spend is None:
            return
        import redis

        try:
            counters().charge(str(self), this_month(), amount)
        except redis.RedisError as exc:
            limits_down.failed(f"budget of {self}", exc)


def budgeted(store: Store, budget: Budget) -> Store:
    """Return the tier behind its monthly budgets, or the tier itself when it has none."""
    return BudgetedStore(store, budget) if budget.limited else store
