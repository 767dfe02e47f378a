"""What a tier's requests and bytes cost, from the prices on its row (all optional).

One function prices everything: the budgets (coordination/budgets.py), the statistics page
and /metrics. A GB is 10^9 bytes; the currency is whatever the operator wrote the prices in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GB = 1_000_000_000


@dataclass(frozen=True)
class Prices:
    """A tier's prices: per 1,000 requests, per GB read, per GB written (caches); None when
    the tier has no price of that kind."""

    per_1k_requests: float | None = None
    per_gb_read: float | None = None
    per_gb_written: float | None = None

    @classmethod
    def of(cls, tier: Any) -> Prices:
        """Return the prices of a tier row or spec."""
        return cls(tier.price_per_1k_requests, tier.price_per_gb_read, tier.price_per_gb_written)

    @property
    def priced(self) -> bool:
        """Whether any price is set."""
        return any(price for price in (self.per_1k_requests, self.per_gb_read, self.per_gb_written))

    @property
    def per_request(self) -> float:
        return (self.per_1k_requests or 0.0) / 1000

    def spend(self, requests: int = 0, bytes_read: int = 0, bytes_written: int = 0) -> float:
        """Return what `requests` requests, `bytes_read` bytes read and `bytes_written` bytes
        written cost at these prices."""
        return (
            requests * self.per_request
            + bytes_read / GB * (self.per_gb_read or 0.0)
            + bytes_written / GB * (self.per_gb_written or 0.0)
        )
