"""The fetch ledger's buffer: records are kept in memory and written in batches.

A `get` only appends to the buffer; a background thread writes batches by count and by
time, and the buffer is flushed at process exit. While the database is down, records stay
in memory (up to `LEDGER_MAX_BUFFER`) and are written when it returns. Each batch goes
into the ledger and its per-minute rollups in one transaction (ledger_writer.py).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime

from django.db import DatabaseError, connections

from .conf import bitstore_settings
from .core import Fetch
from .ledger_writer import write_batch
from .requester import Requester

logger = logging.getLogger(__name__)


class LedgerBuffer:
    """Fetch records waiting to be written, and the thread that writes them."""

    def __init__(self) -> None:
        self._records: deque[dict] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._records)

    def record(self, fetch: Fetch, tier_ids: dict[str, int], requester: Requester) -> None:
        """Queue one record of `fetch`; never touches the database."""
        if not bitstore_settings.LEDGER_ENABLED:
            return
        entry = {
            "sha1": fetch.uri,
            "tier_id": tier_ids.get(fetch.served_by),
            "tier_name": fetch.served_by or "",
            "outcome": fetch.outcome,
            "attempts": [
                {"tier": a.tier, "outcome": a.outcome, "ms": round(a.seconds * 1000, 3)}
                | ({"detail": a.detail[:500]} if a.detail else {})
                for a in fetch.attempts
            ],
            "size": fetch.size,
            "latency_ms": round(fetch.seconds * 1000, 3),
            "cache_written": fetch.cache_written,
            "user_id": requester.user_id,
            "task_id": requester.task_id,
            "created_at": datetime.now(UTC),
        }
        self._append(entry)

    def _append(self, entry: dict) -> None:
        self._check_fork()
        with self._lock:
            self._records.append(entry)
            overflow = len(self._records) - bitstore_settings.LEDGER_MAX_BUFFER
            for _ in range(max(overflow, 0)):
                self._records.popleft()
                self.dropped += 1
        if len(self._records) >= bitstore_settings.LEDGER_FLUSH_COUNT:
            if bitstore_settings.LEDGER_BACKGROUND_FLUSH:
                self._wake.set()
            else:
                self.flush()
        if bitstore_settings.LEDGER_BACKGROUND_FLUSH:
            self._ensure_thread()

    def flush(self) -> int:
        """Write every buffered record; return how many were written. Safe to call anytime."""
        from .models import FetchRecord

        with self._flush_lock:
            with self._lock:
                batch = list(self._records)
                self._records.clear()
            if not batch:
                return 0
            try:
                write_batch(batch)
            except DatabaseError as exc:
                self._requeue(batch)
                connections[FetchRecord.objects.db].close_if_unusable_or_obsolete()
                logger.warning("ledger: %d records kept in memory: %s", len(batch), exc)
                return 0
            return len(batch)

    def _requeue(self, batch: list[dict]) -> None:
        with self._lock:
            self._records.extendleft(reversed(batch))

    def clear(self) -> None:
        """Forget every buffered record (tests)."""
        with self._lock:
            self._records.clear()

    def close(self) -> None:
        """Stop the background thread and write what is left: the clean-shutdown path."""
        self.stop()
        self.flush()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background thread, if one runs, and wait for it."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        self._stopping.clear()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            # A forked child starts empty: the parent writes what it had buffered.
            self.__init__()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="bitstore-ledger", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        # The thread ends when asked to, or when background flushing is turned off (a later
        # record starts a new one if it is turned on again).
        while not self._stopping.is_set():
            self._wake.wait(bitstore_settings.LEDGER_FLUSH_INTERVAL)
            self._wake.clear()
            if self._stopping.is_set() or not bitstore_settings.LEDGER_BACKGROUND_FLUSH:
                break
            try:
                self.flush()
            except Exception:
                logger.exception("ledger: flush failed")
                time.sleep(1)
            finally:
                # This thread's connections: a server could otherwise hold them open forever.
                connections.close_all()


buffer = LedgerBuffer()
atexit.register(buffer.close)
