"""What tiers cost: their prices (`prices.py`), spend and savings over a window from the
ledger's rollups (`spending.py`), and this month's figures for `/metrics` (`metrics.py`)."""

from .prices import Prices

__all__ = ["Prices"]
