"""The operators' admin: tiers (tiers.py), the ledger (ledger.py), warm jobs (warm_jobs.py).

Django's admin autodiscovery imports this package; importing the modules registers them.
"""

from . import ledger, tiers, warm_jobs  # noqa: F401
