"""The service's speed options, set on each composite the service builds (see the
LOCATION_INDEX_* and CONCURRENT_PROBES settings in `conf.DEFAULTS`).

A SHA1 read before is asked first from the tier that served it (a `LocationIndex`); one
never seen is asked from the tiers at once. Either way the answer is the one the configured
order gives, unless a blob has since landed in an earlier tier by another way.

Each configuration gets a new index, since the tiers' order may have changed and must win
from then on. The first one a process builds starts from the ledger's latest hits made
since the tiers were last saved.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.models import Max

from .conf import bitstore_settings
from .core import LocationIndex, Sha1Composite
from .core.per_process import ProcessLock

logger = logging.getLogger(__name__)

_state = {"preloaded": False}
_lock = ProcessLock()


def speed_up(composite: Sha1Composite) -> None:
    """Give a freshly built composite the index and the probes the settings ask for."""
    composite.concurrent = bitstore_settings.CONCURRENT_PROBES
    size = bitstore_settings.LOCATION_INDEX_SIZE
    composite.index = LocationIndex(size) if size else None
    if composite.index is None:
        return
    with _lock:
        first, _state["preloaded"] = not _state["preloaded"], True
    if first:
        preload(composite.index, composite, bitstore_settings.LOCATION_INDEX_WARM)


def preload(index: LocationIndex, composite: Sha1Composite, limit: int) -> int:
    """Load the ledger's latest `limit` hits since the tiers last changed into `index`;
    return how many were loaded. A blob that was written into cache levels is located in the
    top one written; one located in the first tier in order is left out (it is asked first
    anyway, as the composite does not remember such hits either)."""
    from .models import FetchRecord, Tier

    if limit <= 0:
        return 0
    cache = str(composite.cache) if composite.cache is not None else None
    try:
        hits = FetchRecord.objects.filter(outcome=FetchRecord.HIT)
        changed = Tier.objects.aggregate(last=Max("updated_at"))["last"]
        if changed is not None:
            hits = hits.filter(created_at__gt=changed)
        rows = list(
            hits.order_by("-created_at", "-id").values_list(
                "sha1", "tier_name", "cache_written", "written_to"
            )[:limit]
        )
    except DatabaseError as exc:
        logger.warning("the location index starts empty: cannot read the ledger: %s", exc)
        return 0
    first = str(composite.sources[0]) if composite.sources else None
    located = [(sha1, _located(*row, cache)) for sha1, *row in rows[::-1]]
    located = [(sha1, tier) for sha1, tier in located if tier != first]
    index.load(located)
    return len(located)


def _located(tier: str, written: bool, levels: list | None, cache: str | None) -> str:
    """Where a hit left its blob: the top level it was written into (a record from before
    cache levels says only that it went into the cache), else the tier that served it."""
    if levels:
        return levels[0]
    return cache if written and cache else tier


def reset() -> None:
    """Forget that this process preloaded an index (tests): the next build preloads again."""
    with _lock:
        _state["preloaded"] = False
