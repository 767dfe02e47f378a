"""Per-tier trends over a window: hits, misses, errors, latency and spend in time buckets,
summed from the ledger's per-minute rollups (rollups.py) for the statistics page's charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .. import rollups
from ..costs import Prices

#: Points per line: the window is cut into about this many buckets of whole minutes.
POINTS = 60
#: What is charted, by key: its title and unit.
SERIES = {
    "hits": ("Hits", "fetches"),
    "misses": ("Misses", "fetches"),
    "errors": ("Errors (not available or invalid data)", "fetches"),
    "p50_ms": ("Median (p50) latency", "ms"),
    "p95_ms": ("p95 latency", "ms"),
    "spend": ("Spend", "at the tier's prices"),
}
_COLUMNS = ("hits", "misses", "errors", "invalid", "bytes_read", "bytes_written")


@dataclass
class Trends:
    """Each tier's values per bucket: `values[tier][series]` is a list of POINTS numbers (None
    where a latency has no answers)."""

    starts: list[datetime]
    bucket: timedelta
    values: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)


def tier_trends(since: datetime, until: datetime, prices: dict[str, Prices]) -> Trends:
    """Return the trends of the tiers in `prices` (by name, in order) over [since, until]."""
    from ..models import LedgerRollup

    first = since.replace(second=0, microsecond=0)
    minutes = max(1, int((until - first).total_seconds() // 60) + 1)
    # Whole minutes per bucket: a 1 h window in minutes, a day in 24-minute buckets, ...
    width = max(1, int((until - since).total_seconds() // 60) // POINTS)
    bucket = timedelta(minutes=width)
    starts = [first + bucket * index for index in range(-(-minutes // width))]
    names = list(prices)
    counts = {name: [[0] * len(rollups.COLUMNS) for _ in starts] for name in names}
    index = {column: position for position, column in enumerate(rollups.COLUMNS)}
    rows = LedgerRollup.objects.filter(
        minute__gte=first, minute__lte=until, tier_name__in=names
    ).values_list("minute", "tier_name", *rollups.COLUMNS)
    for minute, name, *values in rows.iterator(chunk_size=5000):
        slot = int((minute - first).total_seconds() // 60) // width
        if 0 <= slot < len(starts):
            target = counts[name][slot]
            for position, value in enumerate(values):
                target[position] += value or 0
    trends = Trends(starts, bucket)
    for name in names:
        trends.values[name] = _series(counts[name], index, prices[name])
    return trends


def _series(buckets: list[list[int]], index: dict[str, int], prices: Prices) -> dict:
    series: dict[str, list[float | None]] = {key: [] for key in SERIES}
    first_latency = index[rollups.LATENCY_COLUMNS[0]]
    for counts in buckets:
        value = {column: counts[index[column]] for column in _COLUMNS}
        histogram = rollups.Histogram(counts[first_latency:])
        requests = value["hits"] + value["misses"] + value["errors"] + value["invalid"]
        series["hits"].append(value["hits"])
        series["misses"].append(value["misses"])
        series["errors"].append(value["errors"] + value["invalid"])
        series["p50_ms"].append(histogram.percentile(0.50))
        series["p95_ms"].append(histogram.percentile(0.95))
        series["spend"].append(prices.spend(requests, value["bytes_read"], value["bytes_written"]))
    return series
