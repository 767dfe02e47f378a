"""Trends over a window for the statistics page's charts, in time buckets: per tier, hits,
misses, errors, latency and spend, summed from the ledger's per-minute rollups (ledger/rollups.py);
per cache level, the bytes held and the evictions, from its per-minute samples
(ledger/level_samples.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, Sum, Value, When

from ..costs import Prices
from ..ledger import rollups

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
#: What is charted of each cache level, by key: its title and unit.
LEVEL_SERIES = {
    "bytes": ("Bytes held", "bytes"),
    "evictions": ("Evictions", "blobs"),
}
_COLUMNS = ("hits", "misses", "errors", "invalid", "bytes_read", "bytes_written")
#: The rollup columns a trend sums.
_SUMMED = _COLUMNS + rollups.LATENCY_COLUMNS


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

    first, width, starts = _buckets(since, until)
    step = timedelta(minutes=width)
    names = list(prices)
    # The database sums the buckets: a month is tens of thousands of rows per tier.
    slot = Case(
        *[When(minute__lt=start + step, then=Value(number)) for number, start in enumerate(starts)],
        output_field=IntegerField(),
    )
    rows = (
        LedgerRollup.objects.filter(minute__gte=first, minute__lte=until, tier_name__in=names)
        .values("tier_name", slot=slot)
        .annotate(**{column: Sum(column) for column in _SUMMED})
        .order_by()
    )
    sums: dict[str, list[dict]] = {name: [{} for _ in starts] for name in names}
    for row in rows:
        if row["slot"] is not None:
            sums[row["tier_name"]][row["slot"]] = row
    trends = Trends(starts, step)
    for name in names:
        trends.values[name] = _series(sums[name], prices[name])
    return trends


def _buckets(since: datetime, until: datetime) -> tuple[datetime, int, list[datetime]]:
    """Return the window's first minute, the minutes per bucket, and each bucket's start."""
    first = rollups.minute_of(since)
    minutes = max(1, int((until - first).total_seconds() // 60) + 1)
    # Whole minutes per bucket: a 1 h window in minutes, a day in 24-minute buckets, ...
    width = max(1, int((until - since).total_seconds() // 60) // POINTS)
    bucket = timedelta(minutes=width)
    return first, width, [first + bucket * index for index in range(-(-minutes // width))]


def level_trends(since: datetime, until: datetime, names: list[str]) -> Trends:
    """Return, per bucket, each cache level's bytes held (its last sample in the bucket; None
    where it has none) and its evictions (how much its running count rose during the bucket),
    for the levels `names` and any other level sampled in the window, over [since, until]."""
    from ..models import CacheLevelSample

    first, width, starts = _buckets(since, until)
    samples = CacheLevelSample.objects.filter(minute__gte=first, minute__lte=until)
    rows = samples.order_by("tier_name", "minute").values_list(
        "tier_name", "minute", "bytes", "evictions"
    )
    by_level: dict[str, list[tuple[datetime, int, int]]] = {name: [] for name in names}
    for name, minute, held, evictions in rows.iterator(chunk_size=5000):
        by_level.setdefault(name, []).append((minute, held, evictions))
    trends = Trends(starts, timedelta(minutes=width))
    for name, points in by_level.items():
        before = (
            CacheLevelSample.objects.filter(tier_name=name, minute__lt=first)
            .order_by("-minute")
            .values_list("evictions", flat=True)
            .first()
        )
        held: list[float | None] = [None] * len(starts)
        evicted: list[float | None] = [0] * len(starts)
        for minute, size, evictions in points:
            slot = int((minute - first).total_seconds() // 60) // width
            held[slot] = size  # samples come in time order: the bucket's last one stays
            # A running count that went down (a recount, a restart) starts again from there.
            evicted[slot] += max(0, evictions - before) if before is not None else 0
            before = evictions
        trends.values[name] = {"bytes": held, "evictions": evicted}
    return trends


def _series(buckets: list[dict], prices: Prices) -> dict:
    """Return the series of one tier from its buckets' summed columns."""
    series: dict[str, list[float | None]] = {key: [] for key in SERIES}
    for sums in buckets:
        value = {column: sums.get(column) or 0 for column in _COLUMNS}
        histogram = rollups.Histogram(rollups.latency_counts(sums))
        requests = value["hits"] + value["misses"] + value["errors"] + value["invalid"]
        series["hits"].append(value["hits"])
        series["misses"].append(value["misses"])
        series["errors"].append(value["errors"] + value["invalid"])
        series["p50_ms"].append(histogram.percentile(0.50))
        series["p95_ms"].append(histogram.percentile(0.95))
        series["spend"].append(prices.spend(requests, value["bytes_read"], value["bytes_written"]))
    return series
