"""Warming one blob: make sure the cache tier holds it, fetching it from the sources if not.

`warm_one` is what each chunk of a warm job (chunks.py) does for each of its SHA1s, through
a `Plan`: the tiers of this process's configuration as warming uses them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import services
from ..conf import bitstore_settings
from ..coordination import leases
from ..core import NoCacheTier, Sha1Composite, Sha1Store, StoreNotAvailable
from ..core.outcomes import Outcome
from ..core.store import Store

logger = logging.getLogger(__name__)

# What happened to one SHA1; all but TRANSIENT are final and counted in the job.
ALREADY_CACHED = "already_cached"
WARMED = "warmed"
NOT_FOUND = "not_found"
INVALID = "invalid"
FAILED = "failed"
TRANSIENT = "transient"

#: A fetch's outcome when no source served the blob.
_MISSES = {Outcome.NOT_FOUND: NOT_FOUND, Outcome.INVALID: INVALID}


@dataclass
class Plan:
    """The tiers as warming uses them, for one configuration snapshot: the sources (without
    the cache), each verified, and the cache tier; the composer put each behind its limits."""

    snapshot: services.Snapshot
    sources: Sha1Composite
    cache: Store

    @classmethod
    def of(cls, snapshot: services.Snapshot) -> Plan:
        composite = snapshot.composite
        if composite.cache is None:
            raise NoCacheTier("cache warming needs an enabled tier with the cache role")
        sources = Sha1Composite()
        for store in composite.sources:
            if store is composite.cache:
                continue
            # Verified here whatever the tier's own setting: invalid data is never cached.
            verified = Sha1Store(store, prefix="", verify=True)
            verified.name = str(store)
            sources.append_source(verified)
        return cls(snapshot, sources, composite.cache)


_plan: Plan | None = None


def current_plan() -> Plan:
    """Return the plan for this process's current configuration snapshot."""
    global _plan
    snapshot = services.configuration.snapshot()
    plan = _plan
    if plan is None or plan.snapshot is not snapshot:
        plan = _plan = Plan.of(snapshot)
    return plan


@dataclass(frozen=True)
class Outcome:
    kind: str
    size: int = 0


def warm_one(plan: Plan, sha1: str) -> Outcome:
    """Make sure the cache tier holds the blob; say what it took. One worker at a time does
    this for a SHA1: the others wait for its lease (coordination/leases.py), then find the
    blob cached."""
    with leases.lease(sha1, wait=bitstore_settings.LEASE_TTL) as mine:
        return _warm_one(plan, sha1) if mine else Outcome(TRANSIENT)


def _warm_one(plan: Plan, sha1: str) -> Outcome:
    try:
        if plan.cache.exists(sha1):
            return Outcome(ALREADY_CACHED)
    except StoreNotAvailable as exc:
        logger.info("warming %s: cannot ask the cache: %s", sha1, exc)
        return Outcome(TRANSIENT)
    result = plan.sources.fetch(sha1)
    if result.data is None:
        outcome = Outcome(_MISSES.get(result.outcome, TRANSIENT))
    else:
        outcome = _write(plan, sha1, result.data)
        result.cache_written = outcome.kind == WARMED
    services.record(result, plan.snapshot)
    return outcome


def _write(plan: Plan, sha1: str, data: bytes) -> Outcome:
    try:
        plan.cache.put_or_raise(sha1, data)
    except (StoreNotAvailable, OSError) as exc:
        logger.info("warming %s: cannot write into the cache: %s", sha1, exc)
        return Outcome(TRANSIENT)
    plan.snapshot.composite.forget(sha1)
    return Outcome(WARMED, len(data))
