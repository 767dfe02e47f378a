"""The fetch ledger's buffer: records are kept in memory and written in batches.

A `get` only appends to the buffer; a background thread writes batches by count and by
time, and the buffer is flushed at process exit: a normal exit, Ctrl-C, and SIGTERM (which
otherwise ends Python without its exit handlers; servers with handlers of their own call
`buffer.close()` from their hooks: Celery's shutdown signals, gunicorn's `worker_exit`).
Streams still open at exit are closed first, so that their reads are recorded too. While
the database is down, records stay in memory (up to `LEDGER_MAX_BUFFER`) and are written
when it returns. Each batch goes
into the ledger and its per-minute rollups in one transaction (writer.py).

The same thread calls `buffer.sampler` once in each minute: apps.py sets it to the service's
sampler of the cache levels (level_samples.py), which this module cannot import.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import DatabaseError, connections

from ..conf import bitstore_settings
from ..core import Fetch
from ..core.per_process import PerProcess
from ..requester import Requester
from . import fillers
from .writer import write_batch

logger = logging.getLogger(__name__)


class _Pending:
    """One process's buffered records and its writer thread."""

    def __init__(self) -> None:
        self.records: deque[dict] = deque()
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.dropped = 0
        #: Streams that record their read when closed; `close` closes those still open.
        self.open_streams: weakref.WeakSet = weakref.WeakSet()
        self.closing = False
        #: The minute (since the epoch) the sampler was last called in.
        self.sampled_minute: int | None = None


class LedgerBuffer:
    """Fetch records waiting to be written, and the thread that writes them."""

    def __init__(self) -> None:
        # A forked child starts empty: the parent writes what it had buffered.
        self._state: PerProcess[_Pending] = PerProcess()
        #: Called by the background thread once in each minute, off the hot path.
        self.sampler: Callable[[], object] | None = None

    @property
    def _now(self) -> _Pending:
        return self._state.get(_Pending)

    @property
    def dropped(self) -> int:
        """Records dropped because the buffer was full."""
        return self._now.dropped

    def __len__(self) -> int:
        return len(self._now.records)

    def record(self, fetch: Fetch, tier_ids: dict[str, int], requester: Requester) -> None:
        """Queue one record of `fetch`; never touches the database."""
        if not bitstore_settings.LEDGER_ENABLED:
            return
        entry = {
            "sha1": fetch.uri,
            "tier_id": tier_ids.get(fetch.served_by),
            "tier_name": fetch.served_by or "",
            "outcome": str(fetch.outcome),
            "attempts": [
                {"tier": a.tier, "outcome": str(a.outcome), "ms": round(a.seconds * 1000, 3)}
                | ({"reason": str(a.reason)} if a.reason else {})
                | ({"detail": a.detail[:500]} if a.detail else {})
                for a in fetch.attempts
            ],
            "size": fetch.size,
            "latency_ms": round(fetch.seconds * 1000, 3),
            "cache_written": fetch.cache_written,
            "written_to": fetch.written_to,
            "user_id": requester.user_id,
            "task_id": requester.task_id,
            "created_at": datetime.now(UTC),
        }
        self._append(entry)

    def _append(self, entry: dict) -> None:
        now = self._now
        with now.lock:
            now.records.append(entry)
            overflow = len(now.records) - bitstore_settings.LEDGER_MAX_BUFFER
            for _ in range(max(overflow, 0)):
                now.records.popleft()
                now.dropped += 1
        if now.closing:
            return  # `close` writes what is left; no thread starts while the process exits
        if len(now.records) >= bitstore_settings.LEDGER_FLUSH_COUNT:
            if bitstore_settings.LEDGER_BACKGROUND_FLUSH:
                now.wake.set()
            else:
                self.flush()
        if bitstore_settings.LEDGER_BACKGROUND_FLUSH:
            self._ensure_thread(now)

    def flush(self) -> int:
        """Write every buffered record; return how many were written. Safe to call anytime."""
        from ..models import FetchRecord

        now = self._now
        with now.flush_lock:
            with now.lock:
                batch = list(now.records)
                now.records.clear()
            if not batch:
                return 0
            try:
                write_batch(batch)
            except DatabaseError as exc:
                with now.lock:
                    now.records.extendleft(reversed(batch))
                connections[FetchRecord.objects.db].close_if_unusable_or_obsolete()
                logger.warning("ledger: %d records kept in memory: %s", len(batch), exc)
                return 0
            return len(batch)

    def clear(self) -> None:
        """Forget every buffered record, the minute last sampled and the fillers this process
        remembers (tests)."""
        now = self._now
        with now.lock:
            now.records.clear()
        now.sampled_minute = None
        fillers.recent.clear()

    def track(self, stream) -> None:
        """Remember an open stream that records its read when closed: `close` closes it."""
        self._now.open_streams.add(stream)

    def close(self) -> None:
        """Close the streams still open (recording what they read), stop the background
        thread and write what is left: the shutdown path."""
        now = self._now
        now.closing = True
        try:
            for stream in list(now.open_streams):
                try:
                    stream.close()
                except Exception as exc:  # the tier failed as it closed: still recorded
                    logger.warning("ledger: closing an open stream at exit: %s", exc)
            self.stop()
            self._flush_before_exit(now)
        finally:
            now.closing = False

    def _flush_before_exit(self, now: _Pending) -> None:
        """Write what is left, retrying for up to `LEDGER_EXIT_WAIT` seconds while the
        database refuses (several workers exiting at once lock a SQLite file in turn)."""
        deadline = time.monotonic() + bitstore_settings.LEDGER_EXIT_WAIT
        self.flush()
        while now.records and time.monotonic() < deadline:
            time.sleep(0.1)
            self.flush()
        if now.records:
            logger.error("ledger: %d records could not be written before exit", len(now.records))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background thread, if one runs, and wait for it."""
        now = self._now
        thread = now.thread
        if thread is None:
            return
        now.stopping.set()
        now.wake.set()
        thread.join(timeout)
        now.stopping.clear()

    def _ensure_thread(self, now: _Pending) -> None:
        if now.thread is None or not now.thread.is_alive():
            with now.lock:
                if now.thread is None or not now.thread.is_alive():
                    now.thread = threading.Thread(
                        target=self._run, args=(now,), name="bitstore-ledger", daemon=True
                    )
                    now.thread.start()

    def _run(self, now: _Pending) -> None:
        # The thread ends when asked to, or when background flushing is turned off (a later
        # record starts a new one if it is turned on again).
        while not now.stopping.is_set():
            now.wake.wait(bitstore_settings.LEDGER_FLUSH_INTERVAL)
            now.wake.clear()
            if now.stopping.is_set() or not bitstore_settings.LEDGER_BACKGROUND_FLUSH:
                break
            try:
                self.flush()
                self._sample(now)
            except Exception:
                logger.exception("ledger: flush failed")
                time.sleep(1)
            finally:
                # This thread's connections: a server could otherwise hold them open forever.
                connections.close_all()

    def _sample(self, now: _Pending) -> None:
        """Call the sampler unless it was called in this minute already."""
        minute = int(time.time() // 60)
        if self.sampler is None or now.sampled_minute == minute:
            return
        now.sampled_minute = minute  # a failed sample is not retried within the minute
        try:
            self.sampler()
        except DatabaseError as exc:
            logger.warning("ledger: the cache levels' samples were not written: %s", exc)
        except Exception:
            logger.exception("ledger: the cache levels could not be sampled")


buffer = LedgerBuffer()
atexit.register(buffer.close)


def exit_on_sigterm() -> None:
    """Make SIGTERM end this process as Ctrl-C does, through the exit handlers that write
    the ledger, unless something already handles it (gunicorn, Celery: their hooks flush)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise SystemExit(128 + signum)
