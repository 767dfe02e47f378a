"""What each tier's monthly budgets leave, as the tier list shows it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..coordination import budgets

HOW_COUNTED = (
    "Budgets count per UTC calendar month, in Redis, shared by every worker; without Redis "
    "(RATE_LIMIT_REDIS_URL unset and a broker that is not Redis) each process counts on its "
    "own. A spent budget skips the tier (reason 'budget') until the month ends or the budget "
    "is raised here."
)


def usage_of(tiers: Iterable[Any]) -> dict[str, budgets.Usage] | None:
    """Return this month's counters of the tiers that have a budget (one Redis round trip)."""
    names = [tier.name for tier in tiers if _has_budget(tier)]
    return budgets.usage(names) if names else {}


def describe(tier: Any, usage: dict[str, budgets.Usage] | None) -> str:
    """Say what is left of the tier's budgets this month, and where it is counted."""
    if not _has_budget(tier):
        return "no budget"
    if usage is None:
        return "unknown: Redis not available (limits not enforced)"
    used = usage.get(tier.name, budgets.Usage())
    parts = []
    if tier.monthly_request_budget is not None:
        left = max(0, tier.monthly_request_budget - used.requests)
        parts.append(f"{left:,} of {tier.monthly_request_budget:,} requests")
    if tier.monthly_spend_budget is not None:
        left = max(0.0, tier.monthly_spend_budget - used.spend)
        parts.append(f"{left:,.2f} of {tier.monthly_spend_budget:,.2f} spend")
    where = "" if budgets.counters().shared else " (this process only: no Redis)"
    return "; ".join(parts) + where


def _has_budget(tier: Any) -> bool:
    return tier.monthly_request_budget is not None or tier.monthly_spend_budget is not None
