"""The operators' admin: tiers, the ledger, warm jobs, API tokens (tokens.py).

Django's admin autodiscovery imports this package; importing the modules registers them.
"""

from . import ledger, tiers, tokens, warm_jobs  # noqa: F401
