"""The operators' admin: tiers, the ledger, warm jobs, API tokens, the Blob page.

Django's admin autodiscovery imports this package; importing the modules registers them.
"""

from . import blobs, ledger, tiers, tokens, warm_jobs  # noqa: F401
