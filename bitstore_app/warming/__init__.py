"""Cache warming: jobs (jobs.py), their chunks (chunks.py) and one blob (one_blob.py).

The names below are the public ones (`bitstore_app.warming.start_warm_job`, ...).
"""

from .chunks import retry_delay, warm_chunk
from .jobs import Entries, create_job, retry_job, run_here, start_warm_job
from .one_blob import NoCacheTier

__all__ = [
    "Entries",
    "NoCacheTier",
    "create_job",
    "retry_delay",
    "retry_job",
    "run_here",
    "start_warm_job",
    "warm_chunk",
]
