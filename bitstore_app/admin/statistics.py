"""Per-tier statistics over a time window, read from the ledger's per-minute rollups.

One grouped SUM over the window's rollup rows (ledger/rollups.py) gives every tier's exact counts,
bytes and latency histogram, whatever the number of fetches: the window is counted in whole
minutes, from the minute `since` falls in. Percentiles come from the histogram, so they are
right to within one bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from ..ledger import rollups

#: The windows an operator can choose, by the name used in `?window=`.
WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_WINDOW = "24h"


@dataclass
class TierStats:
    """What one tier answered during the window."""

    tier: str
    hits: int = 0
    misses: int = 0
    #: Not available (down, refused, timed out) or failed otherwise.
    unavailable: int = 0
    #: Returned data that failed its SHA1 check.
    invalid: int = 0
    #: Not asked, by reason (circuit_open, negative_cache, rate_limited, budget, index, other).
    skipped: dict[str, int] = field(default_factory=dict)
    bytes_served: int = 0
    bytes_written: int = 0
    #: Blobs written into this tier (a cache level) from a lower level.
    promotions: int = 0
    histogram: rollups.Histogram = field(
        default_factory=lambda: rollups.Histogram([0] * len(rollups.LATENCY_COLUMNS)),
        repr=False,
    )

    @classmethod
    def of(cls, tier: str, sums: dict[str, int | None]) -> TierStats:
        """Return the statistics of one tier from its summed rollup columns."""
        value = {column: sums.get(column) or 0 for column in rollups.COLUMNS}
        return cls(
            tier,
            hits=value["hits"],
            misses=value["misses"],
            unavailable=value["errors"],
            invalid=value["invalid"],
            skipped={
                column.removeprefix("skipped_"): value[column]
                for column in rollups.SKIP_COLUMNS
                if value[column]
            },
            bytes_served=value["bytes_read"],
            bytes_written=value["bytes_written"],
            promotions=value["promotions"],
            histogram=rollups.Histogram(rollups.latency_counts(value)),
        )

    @property
    def errors(self) -> int:
        """Answers that were no answer: not available, or data that failed its check."""
        return self.unavailable + self.invalid

    @property
    def attempts(self) -> int:
        return self.hits + self.misses + self.errors

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def hit_rate(self) -> float | None:
        """Hits per attempt, from 0 to 1; None when the tier was not asked."""
        return self.hits / self.attempts if self.attempts else None

    @property
    def hit_percent(self) -> float | None:
        return None if self.hit_rate is None else self.hit_rate * 100

    @property
    def p50_ms(self) -> float | None:
        return self.histogram.percentile(0.50)

    @property
    def p95_ms(self) -> float | None:
        return self.histogram.percentile(0.95)


@dataclass
class LevelStats:
    """One cache level: what it holds now, and what was written into it over the window."""

    level: Any  # services.Level: its number, tier, kind, max_bytes and usage
    stats: TierStats

    @property
    def percent_full(self) -> float | None:
        usage, limit = self.level.usage, self.level.max_bytes
        if usage is None or not limit:
            return None
        return 100 * usage.bytes / limit


@dataclass
class Report:
    """The statistics of every tier over one window."""

    window: str
    since: datetime
    until: datetime
    fetches: int
    tiers: list[TierStats]
    overall: TierStats
    #: The cache levels, top first (see `cache_levels`).
    levels: list[LevelStats] = field(default_factory=list)


def window_delta(window: str) -> timedelta:
    """Return the length of a window name, or raise ValueError naming the valid ones."""
    try:
        return WINDOWS[window]
    except KeyError:
        raise ValueError(f"unknown window '{window}'; use one of {', '.join(WINDOWS)}") from None


def tier_statistics(window: str = DEFAULT_WINDOW, now: datetime | None = None) -> Report:
    """Return each tier's hits, misses, errors, latency and bytes over the `window`."""
    from ..models import LedgerRollup, Tier

    until = now or timezone.now()
    since = until - window_delta(window)
    first_minute = rollups.minute_of(since)
    sums = (
        LedgerRollup.objects.filter(minute__gte=first_minute, minute__lte=until)
        .values("tier_name")
        .annotate(**{column: Sum(column) for column in rollups.COLUMNS})
        .order_by()
    )
    by_name = {row["tier_name"]: row for row in sums}
    overall = TierStats.of("All fetches", by_name.pop(rollups.ALL_FETCHES, {}))
    configured = list(Tier.objects.order_by("position", "id").values_list("name", flat=True))
    tiers = [TierStats.of(name, by_name.pop(name, {})) for name in configured]
    # Tiers since deleted or renamed still show, by the name the ledger kept.
    former = (TierStats.of(name, row) for name, row in sorted(by_name.items()))
    tiers += [stats for stats in former if stats.attempts or stats.skipped_total]
    return Report(window, since, until, overall.attempts, tiers, overall)


def cache_levels(report: Report) -> list[LevelStats]:
    """Return the cache levels of this process's configuration, top first, with what each
    holds now (as the level counts it) and the window's promotions and bytes written."""
    from .. import services

    by_name = {stats.tier: stats for stats in report.tiers}
    return [
        LevelStats(level, by_name.get(level.tier) or TierStats(level.tier))
        for level in services.cache_levels()
    ]
