"""Per-minute samples of the cache levels: bytes and blobs held, and evictions so far.

Every process that serves fetches takes them, off the hot path: the ledger's background
thread calls `services.sample_cache_levels` (apps.py hands it over) at most once a minute,
which reads each level's count (`Store.usage()`) and writes one row per level and minute.
Several processes sample the same minute: the newest sample is kept (by when it was taken,
whichever process writes last). A bounded folder's count is shared by the host's
processes; a memory level's is the sampling process's own. The statistics page charts the
samples (admin/trends.py); `bitstore_ledger_prune` deletes old ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from ..core.usage import Usage
from .rollups import minute_of


def record(usages: Mapping[str, Usage], at: datetime | None = None) -> int:
    """Write a sample of each level (by tier name) for the minute of `at` (now), unless a
    newer sample of that minute is there already; return how many were written."""
    from ..models import CacheLevelSample

    taken_at = at or datetime.now(UTC)
    minute = minute_of(taken_at)
    database = CacheLevelSample.objects.db
    written = 0
    for name, usage in usages.items():
        values = {"bytes": usage.bytes, "blobs": usage.blobs, "evictions": usage.evictions}
        rows = CacheLevelSample.objects.using(database).filter(minute=minute, tier_name=name)
        try:
            with transaction.atomic(using=database):
                rows.create(minute=minute, tier_name=name, taken_at=taken_at, **values)
        except IntegrityError:
            # The minute has a sample: replace it unless it is newer than this one.
            written += rows.filter(taken_at__lte=taken_at).update(taken_at=taken_at, **values)
        else:
            written += 1
    return written


def prune(before: datetime) -> int:
    """Delete the samples of the minutes before `before`; return how many were deleted."""
    from ..models import CacheLevelSample

    deleted, _ = CacheLevelSample.objects.filter(minute__lt=minute_of(before)).delete()
    return deleted
