"""The fetch ledger: every fetch is recorded into a buffer in memory (`buffer.py`), which a
background thread writes in batches (`writer.py`: the records and their per-minute rollups,
`rollups.py`, in one transaction); the same thread takes the cache levels' per-minute
samples (`level_samples.py`).

`bitstore_app.ledger.buffer` is the process's buffer: a server's exit hook calls its
`close()` (see `bitstore_app.gunicorn_config`).
"""

from .buffer import LedgerBuffer, buffer, exit_on_sigterm

__all__ = ["LedgerBuffer", "buffer", "exit_on_sigterm"]
