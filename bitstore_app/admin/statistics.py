"""Per-tier statistics over a time window, computed from the fetch ledger.

Each ledger record lists the tiers a fetch tried, with each one's outcome and milliseconds,
so a tier's misses and errors are only found inside that JSON. Rather than querying JSON
arrays differently on SQLite and PostgreSQL, the newest records of the window (at most
`STATS_SAMPLE_SIZE`) are read once and counted in Python; percentiles are interpolated
like PostgreSQL's `percentile_cont`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from ..conf import bitstore_settings
from ..core.outcomes import Outcome, attempt_outcome

#: The windows an operator can choose, by the name used in `?window=`.
WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_WINDOW = "24h"

#: Attempt outcomes as counted per tier; skipped attempts (the tier was not asked) are not
#: counted at all.
HIT_OUTCOMES = {Outcome.HIT}
MISS_OUTCOMES = {Outcome.NOT_FOUND}
ERROR_OUTCOMES = {Outcome.UNAVAILABLE, Outcome.INVALID, Outcome.ERROR}


def percentile(values: list[float], fraction: float) -> float | None:
    """Return the `fraction` percentile of sorted `values`, interpolated; None when empty."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass
class TierStats:
    """What one tier answered during the window."""

    tier: str
    hits: int = 0
    misses: int = 0
    errors: int = 0
    bytes_served: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def attempts(self) -> int:
        return self.hits + self.misses + self.errors

    @property
    def hit_rate(self) -> float | None:
        """Hits per attempt, from 0 to 1; None when the tier was not asked."""
        return self.hits / self.attempts if self.attempts else None

    @property
    def hit_percent(self) -> float | None:
        return None if self.hit_rate is None else self.hit_rate * 100

    @property
    def p50_ms(self) -> float | None:
        return percentile(sorted(self.latencies_ms), 0.50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(sorted(self.latencies_ms), 0.95)

    def count(self, outcome: Outcome | None, ms: float) -> None:
        if outcome in HIT_OUTCOMES:
            self.hits += 1
        elif outcome in MISS_OUTCOMES:
            self.misses += 1
        elif outcome in ERROR_OUTCOMES:
            self.errors += 1
        else:
            return
        self.latencies_ms.append(float(ms))


@dataclass
class Report:
    """The statistics of every tier over one window."""

    window: str
    since: datetime
    until: datetime
    fetches: int
    sampled: int
    tiers: list[TierStats]
    overall: TierStats

    @property
    def truncated(self) -> bool:
        """Whether the window holds more fetches than were analysed."""
        return self.sampled < self.fetches


def window_delta(window: str) -> timedelta:
    """Return the length of a window name, or raise ValueError naming the valid ones."""
    try:
        return WINDOWS[window]
    except KeyError:
        raise ValueError(f"unknown window '{window}'; use one of {', '.join(WINDOWS)}") from None


def tier_statistics(
    window: str = DEFAULT_WINDOW, now: datetime | None = None, limit: int | None = None
) -> Report:
    """Return each tier's hits, misses, errors, latency and bytes over the `window`."""
    from ..models import FetchRecord, Tier

    until = now or timezone.now()
    since = until - window_delta(window)
    limit = limit or bitstore_settings.STATS_SAMPLE_SIZE
    records = FetchRecord.objects.filter(created_at__gte=since, created_at__lte=until)
    rows = records.order_by("-created_at", "-id").values_list(
        "outcome", "tier_name", "size", "latency_ms", "attempts"
    )[:limit]
    configured = list(Tier.objects.order_by("position", "id").values_list("name", flat=True))
    by_tier = {name: TierStats(name) for name in configured}
    overall = TierStats("All fetches")
    sampled = 0
    for outcome, tier_name, size, latency_ms, attempts in rows.iterator(chunk_size=2000):
        sampled += 1
        overall.count(attempt_outcome({"outcome": outcome})[0], latency_ms)
        for attempt in attempts or []:
            name = attempt.get("tier", "?")
            stats = by_tier.setdefault(name, TierStats(name))
            # Records of every release read alike (an open circuit was once "unavailable").
            stats.count(attempt_outcome(attempt)[0], attempt.get("ms", 0.0))
        if outcome == Outcome.HIT and tier_name:
            by_tier.setdefault(tier_name, TierStats(tier_name)).bytes_served += size
            overall.bytes_served += size
    fetches = sampled if sampled < limit else records.count()
    tiers = [stats for name, stats in by_tier.items() if name in configured or stats.attempts]
    return Report(window, since, until, fetches, sampled, tiers, overall)
