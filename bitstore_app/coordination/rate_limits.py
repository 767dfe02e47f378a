"""Per-tier rate limits shared by every worker: a token bucket per tier, kept in Redis.

`limited(store, rate)` puts a tier behind its bucket: each call to the tier first takes a
token, waiting for its turn when the bucket is empty. The bucket lives in Redis and is
updated by one Lua script, so any number of processes on any number of hosts share one
budget. The composer applies it to every tier it builds (composer.py), so `get`, `get_many`,
`open`, the blob URL, batch existence and cache warming all keep to it; a call to an
unlimited tier costs nothing, a limited one a Redis round trip. A call whose turn is more
than RATE_LIMIT_MAX_WAIT away is not made: the tier is skipped (reason `rate_limited`).

Without Redis (the embedded filesystem broker), each process keeps its own bucket: the
limit then holds per process only. When Redis fails, calls go through (limits_down.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..conf import bitstore_settings
from ..core import StoreNotAvailable
from ..core.per_process import ProcessLock
from ..core.retry import admitting_retries
from ..core.store import Store
from ..core.wrapper import StoreWrapper, T
from . import limits_down
from .redis_scripts import RedisScript

logger = logging.getLogger(__name__)

KEY_PREFIX = "bitstore:ratelimit:"

# Take one token from the bucket KEYS[1] (rate ARGV[1] tokens/s, size ARGV[2]). The token
# may be one that refills later: then the caller waits for it. Returns {granted, wait}; a
# wait longer than ARGV[3] seconds is refused and takes nothing. Redis's clock is the only
# clock, so hosts whose clocks disagree still share one budget.
TAKE_TOKEN = """
local rate, size, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, stamp = size, now end
tokens = math.min(size, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if wait > max_wait then return {0, string.format('%.6f', wait)} end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'stamp', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((size - tokens) / rate * 1000) + 1000)
return {1, string.format('%.6f', wait)}
"""


class Throttled(StoreNotAvailable):
    """The tier's rate limit leaves no turn soon enough: try again later."""

    skip_reason = "rate_limited"


class RedisBuckets:
    """Token buckets in Redis, shared by every process that uses the same database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._take = RedisScript(url, TAKE_TOKEN, timeout=5)

    shared = True

    def take(self, name: str, rate: float, size: float, max_wait: float) -> float | None:
        """Take a token; return the seconds to wait before using it, or None if refused."""
        granted, wait = self._take(keys=[KEY_PREFIX + name], args=[rate, size, max_wait])
        return float(wait) if int(granted) else None


class LocalBuckets:
    """Token buckets in this process's memory: the same arithmetic as TAKE_TOKEN."""

    shared = False

    def __init__(self) -> None:
        self._lock = ProcessLock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, name: str, rate: float, size: float, max_wait: float) -> float | None:
        with self._lock:
            now = time.monotonic()
            tokens, stamp = self._state.get(name, (size, now))
            tokens = min(size, tokens + max(0.0, now - stamp) * rate)
            wait = (1 - tokens) / rate if tokens < 1 else 0.0
            if wait > max_wait:
                return None
            self._state[name] = (tokens - 1, now)
            return wait


_buckets: dict[str | None, RedisBuckets | LocalBuckets] = {}
_buckets_lock = ProcessLock()


def buckets() -> RedisBuckets | LocalBuckets:
    """Return this process's buckets: in Redis when there is one to share, else local."""
    url = redis_url()
    with _buckets_lock:
        if url not in _buckets:
            if url is None:
                logger.warning("no Redis for rate limits: each process keeps its own limits")
            _buckets[url] = RedisBuckets(url) if url else LocalBuckets()
        return _buckets[url]


def redis_url() -> str | None:
    """Return RATE_LIMIT_REDIS_URL, else the Celery broker's URL when it is Redis, else None."""
    url = bitstore_settings.RATE_LIMIT_REDIS_URL
    if url:
        return url
    from celery import current_app

    broker = current_app.conf.broker_url or ""
    return broker if broker.startswith(("redis://", "rediss://", "unix://")) else None


def acquire(name: str, rate: float) -> None:
    """Wait for a turn to call the tier `name`, limited to `rate` calls per second.

    Raise `Throttled` when the turn is more than RATE_LIMIT_MAX_WAIT seconds away; go ahead
    at once when Redis cannot be asked.
    """
    import redis

    max_wait = bitstore_settings.RATE_LIMIT_MAX_WAIT
    size = max(1.0, float(bitstore_settings.RATE_LIMIT_BURST))
    try:
        wait = buckets().take(name, rate, size, max_wait)
    except redis.RedisError as exc:
        limits_down.failed(f"rate limit of {name}", exc)
        return
    limits_down.answered()
    if wait is None:
        raise Throttled(name, f"rate limit of {rate:g}/s: no turn within {max_wait:g} s")
    if wait > 0:
        time.sleep(wait)


class RateLimitedStore(StoreWrapper):
    """A tier whose every call waits for a turn under the tier's rate limit."""

    def __init__(self, store: Store, rate: float) -> None:
        super().__init__(store)
        self.rate = rate

    def around(self, call: Callable[[], T]) -> T:
        def turn() -> None:
            acquire(str(self), self.rate)

        turn()
        with admitting_retries(turn):  # a retry is one more request: it takes a turn too
            return call()


def limited(store: Store, rate: float) -> Store:
    """Return the tier behind its rate limit, or the tier itself when `rate` is 0."""
    return RateLimitedStore(store, rate) if rate and rate > 0 else store
