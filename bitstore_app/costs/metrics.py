"""The cost side of /metrics, read when scraped: this UTC month's spend and savings per tier
(from the ledger's rollups, as the statistics page counts them) and the monthly budgets with
what the limits have counted against them. Per tier only: requesters are unbounded.

The month's sums take a query over its rollups, so they are computed at most once every
`REFRESH_SECONDS` per process and served from memory in between.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0

_lock = threading.Lock()
_cached: tuple[float, list] | None = None


def collect() -> list[GaugeMetricFamily]:
    """Return the cost metrics, recomputed when the last ones are older than REFRESH_SECONDS."""
    global _cached
    with _lock:
        if _cached is None or time.monotonic() - _cached[0] > REFRESH_SECONDS:
            _cached = (time.monotonic(), _families())
        return _cached[1]


def forget() -> None:
    """Recompute on the next scrape (tests, and after changing prices)."""
    global _cached
    with _lock:
        _cached = None


def _families() -> list[GaugeMetricFamily]:
    from django.db import DatabaseError

    from ..coordination import budgets
    from ..models import Tier
    from .spending import spend_report

    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        report = spend_report(month, now, requesters=False)
        tiers = list(Tier.objects.all())
    except DatabaseError as exc:
        logger.warning("metrics: cannot read the spend: %s", exc)
        return []
    spend = GaugeMetricFamily(
        "bitstore_tier_spend_month",
        "What a tier cost this UTC month at its prices: requests answered, bytes read and "
        "written (from the ledger).",
        labels=["tier"],
    )
    savings = GaugeMetricFamily(
        "bitstore_tier_savings_month",
        "What cache hits saved this UTC month at the source that filled the cache (from the "
        "ledger).",
        labels=["tier"],
    )
    for tier in report.tiers:
        spend.add_metric([tier.tier], tier.spend)
        savings.add_metric([tier.tier], tier.savings)
    return [spend, savings, *_budget_families(tiers, budgets.usage)]


def _budget_families(tiers: list, usage_of) -> list[GaugeMetricFamily]:
    budget = GaugeMetricFamily(
        "bitstore_tier_budget",
        "A tier's monthly budget, by kind: requests, or spend at its prices.",
        labels=["tier", "kind"],
    )
    used = GaugeMetricFamily(
        "bitstore_tier_budget_used",
        "What the limits counted against a tier's monthly budget this UTC month, by kind.",
        labels=["tier", "kind"],
    )
    limited = [t for t in tiers if {t.monthly_request_budget, t.monthly_spend_budget} != {None}]
    counted = usage_of([t.name for t in limited]) if limited else {}
    for tier in limited:
        for kind, limit in (
            ("requests", tier.monthly_request_budget),
            ("spend", tier.monthly_spend_budget),
        ):
            if limit is None:
                continue
            budget.add_metric([tier.name, kind], float(limit))
            if counted is not None and tier.name in counted:
                value = getattr(counted[tier.name], kind)
                used.add_metric([tier.name, kind], float(value))
    return [budget, used]
