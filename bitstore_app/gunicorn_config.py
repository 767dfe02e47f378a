"""gunicorn's configuration for a project that serves bitstore, with its hooks:

    gunicorn -c python:bitstore_app.gunicorn_config --workers 4 mysite.wsgi

- workers serve requests from threads (`gthread`): a blob that streams for longer than
  gunicorn's worker `timeout` (30 s), to a slow client or from a slow uploader, is not taken
  for a hung worker and killed mid-blob, as a `sync` worker would be; a slow client holds one
  thread rather than a whole process;
- `/metrics` answers with the sum over every worker: each worker counts into
  `PROMETHEUS_MULTIPROC_DIR` (a new temporary folder when it is not set), which is emptied
  when gunicorn starts;
- a worker that exits writes its ledger buffer before it goes;
- the master does prometheus-client's bookkeeping for each worker that died.

Options of your own go on the command line, or in a `gunicorn.conf.py` that begins with
`from bitstore_app.gunicorn_config import *` (keep the three hooks if you define your own).
`--threads N` on the command line sets the threads of a worker.
"""

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["worker_class", "threads", "keepalive", "on_starting", "worker_exit", "child_exit"]

#: The worker's main loop tells the master it is alive while its threads serve requests of
#: any length (a `sync` worker tells it only between requests).
worker_class = "gthread"
threads = 4
#: Each response closes its connection. nginx (README's block) opens one per request anyway;
#: and at shutdown a gthread worker of gunicorn 26 holding a kept-alive connection waits its
#: whole `graceful_timeout` (30 s) before it exits and writes its ledger buffer.
keepalive = 0

# Set before a worker imports prometheus-client: the variable decides, once per process, that
# its counters live in files (gunicorn loads this module in the master, before forking).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bitstore-metrics-")


def on_starting(server):
    """Empty the metrics folder: the files of an earlier run would be counted again."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        path.unlink()


def worker_exit(server, worker):
    """Write the worker's buffered fetch records to the database."""
    if "bitstore_app.ledger" in sys.modules:  # else this worker never recorded a fetch
        sys.modules["bitstore_app.ledger"].buffer.close()


def child_exit(server, worker):
    """Tell prometheus-client that the worker is gone (its counts stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
