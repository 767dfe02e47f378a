"""What the tiers cost over a span of time, what the caches saved, and who spent it.

Spend per tier is read from the ledger's per-minute rollups (ledger/rollups.py): the requests a
tier answered (hits, misses, errors: a skipped tier was not asked and costs nothing), the
bytes it served and the bytes written into it, at the tier's current prices (prices.py).

A cache hit, at any cache level, saved what the blob would have cost at the source that
filled the levels with it (not a promotion from a lower level): the rollups count each hit
on that source's row as the ledger is written (ledger/fillers.py), or on the row "" when no
fill of the blob is known, and those are assumed to come from the first write-back source in
order. Spend per requester (user or task) is counted from the newest ledger records of the
span, at most `SPEND_SAMPLE_SIZE` of them. Existence checks (`missing`, `exists`) are not in
the ledger, so they are not in these sums; the budgets (coordination/budgets.py) do count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Sum

from ..conf import bitstore_settings
from .prices import Prices

#: Requesters listed, the biggest spenders first.
TOP_REQUESTERS = 20


@dataclass
class TierSpend:
    """One tier's requests, bytes and what they cost; and what caches saved at it."""

    tier: str
    prices: Prices
    requests: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    #: Cache hits of blobs this tier filled the cache with, their bytes, and what they saved.
    saved_hits: int = 0
    saved_bytes: int = 0

    @property
    def spend(self) -> float:
        return self.prices.spend(self.requests, self.bytes_read, self.bytes_written)

    @property
    def savings(self) -> float:
        return self.prices.spend(self.saved_hits, self.saved_bytes)


@dataclass
class RequesterSpend:
    """What one user or task spent."""

    user_id: int | None
    task_id: str
    fetches: int = 0
    spend: float = 0.0
    label: str = ""


@dataclass
class SpendReport:
    """Spend and savings per tier, and the biggest spenders, over [since, until]."""

    since: datetime
    until: datetime
    tiers: list[TierSpend]
    requesters: list[RequesterSpend] = field(default_factory=list)
    #: Whether the span held more records than were counted per requester.
    requesters_truncated: bool = False

    @property
    def priced(self) -> bool:
        return any(t.prices.priced for t in self.tiers)

    @property
    def spend(self) -> float:
        return sum(t.spend for t in self.tiers)

    @property
    def savings(self) -> float:
        return sum(t.savings for t in self.tiers)


def spend_report(since: datetime, until: datetime, requesters: bool = True) -> SpendReport:
    """Return the spend and savings of every tier over [since, until], and with
    `requesters` the biggest spenders."""
    by_name = tier_spend(since, until)
    report = SpendReport(since, until, list(by_name.values()))
    if requesters:
        report.requesters, report.requesters_truncated = requester_spend(by_name, since, until)
    return report


def tier_spend(since: datetime, until: datetime) -> dict[str, TierSpend]:
    """Return each tier's requests, bytes and savings over the span, by name, in the tiers'
    order (then the tiers since deleted or renamed that the rollups name)."""
    from ..ledger.rollups import ALL_FETCHES, SAVING_COLUMNS, minute_of
    from ..models import LedgerRollup, Tier

    tiers = list(Tier.objects.order_by("position", "id"))
    by_name = {tier.name: TierSpend(tier.name, Prices.of(tier)) for tier in tiers}
    first_minute = minute_of(since)
    requests = ("hits", "misses", "errors", "invalid")
    summed = (*requests, "bytes_read", "bytes_written", *SAVING_COLUMNS)
    sums = (
        LedgerRollup.objects.filter(minute__gte=first_minute, minute__lte=until)
        .values("tier_name")
        .annotate(**{column: Sum(column) for column in summed})
        .order_by()
    )
    unknown = None
    for row in sums:
        if row["tier_name"] == ALL_FETCHES:  # cache hits whose filler is not known
            unknown = row
            continue
        tier = by_name.get(row["tier_name"])
        if tier is None:  # a tier since deleted or renamed: its prices are gone
            tier = by_name[row["tier_name"]] = TierSpend(row["tier_name"], Prices())
        tier.requests = sum(row[name] or 0 for name in requests)
        tier.bytes_read, tier.bytes_written = row["bytes_read"] or 0, row["bytes_written"] or 0
        add_savings(tier, row)
    write_back = [tier.name for tier in tiers if tier.write_back]
    if unknown is not None and write_back:
        add_savings(by_name[write_back[0]], unknown)
    return by_name


def add_savings(tier: TierSpend, sums: dict) -> None:
    """Add the cache hits, and their bytes, summed in a rollup row to what `tier` saved."""
    tier.saved_hits += sums["saved_hits"] or 0
    tier.saved_bytes += sums["saved_bytes"] or 0


def requester_spend(
    by_name: dict[str, TierSpend], since: datetime, until: datetime
) -> tuple[list[RequesterSpend], bool]:
    """Return the biggest spenders of the span's newest records, and whether there were more
    records than `SPEND_SAMPLE_SIZE`."""
    from ..models import FetchRecord

    limit = bitstore_settings.SPEND_SAMPLE_SIZE
    prices = {name: tier.prices for name, tier in by_name.items() if tier.prices.priced}
    caches = _cache_names()
    rows = (
        FetchRecord.objects.filter(created_at__gte=since, created_at__lte=until)
        .order_by("-created_at", "-id")
        .values_list(
            "user_id", "task_id", "tier_name", "size", "cache_written", "written_to", "attempts"
        )
    )[:limit]
    spenders: dict[tuple, RequesterSpend] = {}
    counted = 0
    for row in rows.iterator(2000):
        user_id, task_id, served_by, size, cache_written, written_to, attempts = row
        counted += 1
        spender = spenders.get((user_id, task_id))
        if spender is None:
            spender = spenders[(user_id, task_id)] = RequesterSpend(user_id, task_id)
        spender.fetches += 1
        spender.spend += _record_cost(prices, served_by, size, attempts or [])
        # A record from before cache levels wrote into the one cache (listed first).
        for level in written_to or (caches[:1] if cache_written else []):
            if level in prices:
                spender.spend += prices[level].spend(bytes_written=size)
    top = sorted(spenders.values(), key=lambda s: -s.spend)[:TOP_REQUESTERS]
    _label(top)
    return top, counted >= limit


def _cache_names() -> list[str]:
    """The cache tiers' names, the enabled ones first, in position order."""
    from ..models import Tier

    caches = Tier.objects.filter(role=Tier.CACHE).order_by("-enabled", "position", "id")
    return list(caches.values_list("name", flat=True))


def _record_cost(prices: dict[str, Prices], served_by: str, size: int, attempts: list) -> float:
    """Return what one fetch cost: a request at each tier asked, the bytes at the server."""
    cost = 0.0
    for attempt in attempts:
        tier = attempt.get("tier")
        if tier in prices and attempt.get("outcome") != "skipped":
            cost += prices[tier].per_request
    if served_by in prices:
        cost += prices[served_by].spend(bytes_read=size)
    return cost


def _label(spenders: list[RequesterSpend]) -> None:
    from django.contrib.auth import get_user_model

    ids = {s.user_id for s in spenders if s.user_id is not None}
    users = get_user_model()
    names = dict(users.objects.filter(pk__in=ids).values_list("pk", users.USERNAME_FIELD))
    for spender in spenders:
        if spender.user_id is not None:
            spender.label = f"user {names.get(spender.user_id, spender.user_id)}"
        elif spender.task_id:
            spender.label = f"task {spender.task_id}"
        else:
            spender.label = "nobody named (a command or a shell)"
