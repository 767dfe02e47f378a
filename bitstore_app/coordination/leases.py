"""A short lease per SHA1 shared by every worker: one process fetches a blob, the others wait.

Inside one process, concurrent gets of a SHA1 already share one fetch (the composite's single
flight). Warm jobs run in many processes, so they also take a lease in Redis first:

    with leases.lease(sha1, wait=10) as mine:
        if mine:
            ...  # check the cache, fetch the blob, write it into the cache
        else:
            ...  # another worker still holds it after 10 s: try again later

A lease is a Redis key set with NX and a time to live (`LEASE_TTL`, short), so a worker that
dies holding one blocks the others for that long at most, and a fetch that outlasts it may
be made twice (harmless: the blob is the same); it is released by its owner only. When
Redis cannot be reached the lease is granted (and a warning logged): coalescing saves work,
and warming must not stop for it. Without Redis (the embedded broker) leases are per process.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..conf import bitstore_settings
from ..core.per_process import ProcessLock
from .redis_scripts import RedisScript

logger = logging.getLogger(__name__)

KEY_PREFIX = "bitstore:lease:"

# Delete the lease only if this owner still holds it (it may have expired and been taken).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Extend the lease only if this owner still holds it.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLeases:
    """Leases as Redis keys, shared by every process that uses the same database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._release = RedisScript(url, RELEASE, timeout=2)
        self._renew = RedisScript(url, RENEW, timeout=2)

    def try_acquire(self, sha1: str, owner: str, ttl: float) -> bool:
        client = self._release.client()
        return bool(client.set(KEY_PREFIX + sha1, owner, nx=True, px=int(ttl * 1000)))

    def renew(self, sha1: str, owner: str, ttl: float) -> None:
        self._renew(keys=[KEY_PREFIX + sha1], args=[owner, int(ttl * 1000)])

    def release(self, sha1: str, owner: str) -> None:
        self._release(keys=[KEY_PREFIX + sha1], args=[owner])


class LocalLeases:
    """Leases in this process's memory, with the same expiry rule."""

    def __init__(self) -> None:
        self._lock = ProcessLock()
        self._held: dict[str, tuple[str, float]] = {}

    def try_acquire(self, sha1: str, owner: str, ttl: float) -> bool:
        with self._lock:
            current = self._held.get(sha1)
            if current is not None and current[1] > time.monotonic():
                return False
            self._held[sha1] = (owner, time.monotonic() + ttl)
            return True

    def renew(self, sha1: str, owner: str, ttl: float) -> None:
        with self._lock:
            if self._held.get(sha1, ("",))[0] == owner:
                self._held[sha1] = (owner, time.monotonic() + ttl)

    def release(self, sha1: str, owner: str) -> None:
        with self._lock:
            if self._held.get(sha1, ("",))[0] == owner:
                del self._held[sha1]


_stores: dict[str | None, RedisLeases | LocalLeases] = {}
_stores_lock = ProcessLock()


def redis_url() -> str | None:
    """Return LEASE_REDIS_URL, else the Redis the rate limits use (see rate_limits.py)."""
    from .rate_limits import redis_url as shared_redis_url

    return bitstore_settings.LEASE_REDIS_URL or shared_redis_url()


def leases() -> RedisLeases | LocalLeases:
    """Return this process's leases: in Redis when there is one to share, else local."""
    url = redis_url()
    with _stores_lock:
        if url not in _stores:
            _stores[url] = RedisLeases(url) if url else LocalLeases()
        return _stores[url]


class FillLeases:
    """The leases as the composite's fill gate uses them (`core.fill_gate.Leases`): the first
    process to reach a write-back source fills the cache, the others wait and read it. The
    filling process renews its lease as the fill progresses, so a fill that outlasts
    `LEASE_TTL` keeps it; one that stops making progress loses it `LEASE_TTL` later."""

    def acquire(self, key: str, wait: float) -> str | None:
        import redis

        owner = _owner()
        try:
            held = _acquire(leases(), key, owner, bitstore_settings.LEASE_TTL, wait)
        except redis.RedisError as exc:
            logger.warning("lease on %s: Redis not available, going ahead without it: %s", key, exc)
            return owner
        return owner if held else None

    def renew(self, key: str, token: str) -> None:
        import redis

        try:
            leases().renew(key, token, bitstore_settings.LEASE_TTL)
        except redis.RedisError as exc:
            logger.warning("lease on %s not renewed (another process may fetch it): %s", key, exc)

    def release(self, key: str, token: str) -> None:
        _release(leases(), key, token)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@contextmanager
def lease(sha1: str, wait: float = 0.0, ttl: float | None = None) -> Iterator[bool]:
    """Hold the lease on `sha1` for the block, waiting up to `wait` seconds for another
    worker to release it; yield whether this worker holds it."""
    import redis

    store = leases()
    owner = _owner()
    try:
        held = _acquire(store, sha1, owner, ttl or bitstore_settings.LEASE_TTL, wait)
    except redis.RedisError as exc:
        logger.warning("lease on %s: Redis not available, going ahead without it: %s", sha1, exc)
        yield True
        return
    try:
        yield held
    finally:
        if held:
            _release(store, sha1, owner)


def _acquire(store: RedisLeases | LocalLeases, sha1: str, owner: str, ttl: float, wait: float):
    deadline = time.monotonic() + wait
    while not store.try_acquire(sha1, owner, ttl):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.05, left))
    return True


def _release(store: RedisLeases | LocalLeases, sha1: str, owner: str) -> None:
    import redis

    try:
        store.release(sha1, owner)
    except redis.RedisError as exc:
        logger.warning("lease on %s not released (it expires by itself): %s", sha1, exc)
