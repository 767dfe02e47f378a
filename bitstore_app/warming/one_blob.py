"""Warming one blob: make sure the top cache level holds it, fetching it if not (promoted
from a lower level that holds it, else from the sources, into every level).

`warm_one` is what each chunk of a warm job (chunks.py) does for each of its SHA1s, through
a `Plan`: the composite for warming of this process's configuration snapshot, which the
composer built with it (`composer.for_warming`). It fills the cache by the same code as every
read (`Composite.fetch`): one fill per blob across processes (the leases in Redis), the bytes
hashed once, by the cache's writer, and never cached when they do not match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import services
from ..core import NoCacheTier, Sha1Composite, StoreNotAvailable
from ..core.outcomes import Outcome as FetchOutcome

logger = logging.getLogger(__name__)

# What happened to one SHA1; all but TRANSIENT are final and counted in the job.
ALREADY_CACHED = "already_cached"
WARMED = "warmed"
NOT_FOUND = "not_found"
INVALID = "invalid"
FAILED = "failed"
TRANSIENT = "transient"

#: A fetch's outcome when no source served the blob.
_MISSES = {FetchOutcome.NOT_FOUND: NOT_FOUND, FetchOutcome.INVALID: INVALID}


@dataclass(frozen=True)
class Plan:
    """The tiers as warming uses them, for one configuration snapshot."""

    snapshot: services.Snapshot

    @classmethod
    def of(cls, snapshot: services.Snapshot) -> Plan:
        if snapshot.warming is None:
            raise NoCacheTier(
                "cache warming needs an enabled tier with the cache role that is not read-only"
            )
        return cls(snapshot)

    @property
    def composite(self) -> Sha1Composite:
        return self.snapshot.warming


def current_plan() -> Plan:
    """Return the plan for this process's current configuration snapshot."""
    return Plan.of(services.configuration.snapshot())


@dataclass(frozen=True)
class Outcome:
    kind: str
    size: int = 0


def warm_one(plan: Plan, sha1: str) -> Outcome:
    """Make sure the top writable cache level holds the blob; say what it took. One process
    at a time fetches a SHA1 from a source (the composite's fill gate and its leases): the
    others wait for it, then find the blob cached. A blob a cache level held already (and
    is promoted from) counts as already cached: no source was asked."""
    composite = plan.composite
    try:
        if composite.cache.exists(sha1):
            return Outcome(ALREADY_CACHED)
    except StoreNotAvailable as exc:
        logger.info("warming %s: cannot ask the cache: %s", sha1, exc)
        return Outcome(TRANSIENT)
    result = composite.fetch(sha1)
    services.record(result, plan.snapshot)
    if result.data is None:
        return Outcome(_MISSES.get(result.outcome, TRANSIENT))
    if result.served_by in {str(level) for level in composite.caches}:
        return Outcome(ALREADY_CACHED)  # a lower level had it, or another process filled it
    if not result.cache_written:
        logger.info("warming %s: cannot write into the cache", sha1)
        return Outcome(TRANSIENT)
    plan.snapshot.composite.forget(sha1)
    return Outcome(WARMED, len(result.data))
