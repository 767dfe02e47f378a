"""Cache warming: jobs (jobs.py), their chunks (chunks.py), one blob (one_blob.py), and the
workers that take them (workers.py).

The names below are the public ones (`bitstore_app.warming.start_warm_job`, ...).
"""

from .chunks import retry_delay, warm_chunk
from .jobs import (
    MAX_CHUNK_SIZE,
    BrokerUnavailable,
    Entries,
    create_job,
    retry_job,
    run_here,
    start_warm_job,
)
from .one_blob import NoCacheTier
from .workers import waiting_note

__all__ = [
    "MAX_CHUNK_SIZE",
    "BrokerUnavailable",
    "Entries",
    "NoCacheTier",
    "create_job",
    "retry_delay",
    "retry_job",
    "run_here",
    "start_warm_job",
    "waiting_note",
    "warm_chunk",
]
