"""Warm jobs: fetch the blobs the cache tier lacks from the sources and write them in.

A job (`WarmJob`) is split into chunks; each chunk is one Celery task (tasks.py) that calls
`chunks.warm_chunk`. A job can also be warmed in this process (`run_here`), retrying like the
tasks do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import bitstore_settings
from ..core import is_sha1, parse_sha1
from ..ledger import buffer as ledger
from ..models import WarmJob, WarmJobHashes
from ..requester import requested_by
from .chunk_task import warm_chunk as warm_chunk_task
from .chunks import retry_delay, warm_chunk
from .one_blob import current_plan

#: The largest chunk size the database holds (WarmJob.chunk_size, a PositiveIntegerField).
MAX_CHUNK_SIZE = 2**31 - 1

logger = logging.getLogger(__name__)


@dataclass
class Entries:
    """A job's input: its distinct SHA1s (lower case, in order) and what is not a SHA1."""

    hashes: list[str]
    malformed: list[str]

    @classmethod
    def read(cls, items: Iterable[object]) -> Entries:
        if isinstance(items, str):  # one SHA1 given on its own, not a list of characters
            items = [items]
        hashes: dict[str, None] = {}
        malformed = []
        for item in items:
            if is_sha1(item):
                hashes[parse_sha1(item)] = None
            else:
                malformed.append(_shown(item))
        return cls(list(hashes), malformed)

    def chunks(self, size: int) -> list[list[str]]:
        return [self.hashes[start : start + size] for start in range(0, len(self.hashes), size)]


def _shown(item: object) -> str:
    """Return a malformed entry as the job's report keeps it: its first 200 characters,
    those that are not printable escaped (a database may refuse NUL and lone surrogates)."""
    text = str(item)[:200]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def start_warm_job(
    hashes: Iterable[object],
    chunk_size: int | None = None,
    *,
    created_by: int | None = None,
    task_id: str = "",
    retry_of: int | None = None,
) -> WarmJob:
    """Create a warm job for the SHA1s and enqueue its chunk tasks once it is committed.

    With the `task_id` of a job that already exists (its creating task was delivered again),
    enqueue only the chunks that no worker has started.
    """
    entries = Entries.read(hashes)
    existing = WarmJob.objects.filter(task_id=task_id).first() if task_id else None
    if existing is None:
        try:
            job, chunks = _create(entries, chunk_size, created_by, task_id, retry_of)
        except IntegrityError:  # the same task, delivered twice, created it meanwhile
            if not task_id:
                raise
            existing = WarmJob.objects.get(task_id=task_id)
    if existing is not None:
        return _resume(existing, entries)
    transaction.on_commit(lambda: enqueue(job.pk, [(i, c, 0) for i, c in enumerate(chunks)]))
    return job


def create_job(
    hashes: Iterable[object], chunk_size: int | None = None
) -> tuple[WarmJob, list[list[str]]]:
    """Create a job's record and return it with its chunks, enqueuing nothing (the chunks
    are then warmed here, with `run_here`, and no worker sends them again)."""
    return _create(Entries.read(hashes), chunk_size, watched=False)


def _create(
    entries: Entries,
    chunk_size: int | None,
    created_by: int | None = None,
    task_id: str = "",
    retry_of: int | None = None,
    watched: bool = True,
) -> tuple[WarmJob, list[list[str]]]:
    """Create the job; keep its SHA1s when `watched`, so that the workers can send its
    chunks again should a broker lose them (stalled.py)."""
    current_plan()  # no cache tier: say so now rather than in every task
    size = int(bitstore_settings.WARM_CHUNK_SIZE if chunk_size is None else chunk_size)
    if not 1 <= size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be a whole number from 1 to {MAX_CHUNK_SIZE}")
    chunks = entries.chunks(size)
    done_at = None if chunks else timezone.now()  # nothing to fetch: done as it is created
    with transaction.atomic():  # a savepoint, so that a duplicate task_id leaves no trace
        job = WarmJob.objects.create(
            total=len(entries.hashes) + len(entries.malformed),
            malformed=len(entries.malformed),
            malformed_inputs=entries.malformed[: WarmJob.MALFORMED_KEPT],
            chunk_size=size,
            chunks=len(chunks),
            created_by_id=created_by,
            task_id=task_id,
            retry_of_id=retry_of,
            status=WarmJob.QUEUED if chunks else WarmJob.DONE,
            started_at=done_at,
            finished_at=done_at,
        )
        if watched and chunks:
            WarmJobHashes.objects.create(job=job, hashes=entries.hashes)
    return job, chunks


def retry_job(job: WarmJob, created_by: int | None = None) -> WarmJob | None:
    """Start a job for the SHA1s of `job` that failed or had invalid data; None if none did."""
    hashes = job.retryable_hashes
    if not hashes:
        return None
    return start_warm_job(hashes, job.chunk_size or None, created_by=created_by, retry_of=job.pk)


def _resume(job: WarmJob, entries: Entries) -> WarmJob:
    started = set(job.chunk_attempts.values_list("index", flat=True))
    chunks = [(i, c, 0) for i, c in enumerate(entries.chunks(job.chunk_size)) if i not in started]
    logger.info("warm job %s delivered again: %d chunks enqueued again", job.pk, len(chunks))
    transaction.on_commit(lambda: enqueue(job.pk, chunks))
    return job


class BrokerUnavailable(Exception):
    """The Celery broker did not take a job's chunk tasks: the job stays queued."""


def enqueue(job_id: int, chunks: list[tuple[int, list[str], int]]) -> None:
    """Send the chunk tasks of a job: (index, SHA1s, the attempt each one starts at)."""
    from celery.exceptions import OperationalError  # kombu's, which Celery re-exports

    try:
        for index, hashes, attempt in chunks:
            warm_chunk_task.apply_async((job_id, index, hashes), retries=attempt)
    except OperationalError as exc:  # the broker cannot be reached
        broker = warm_chunk_task.app.connection_for_write().as_uri()  # without the password
        raise BrokerUnavailable(
            f"cannot send warm job {job_id} to the Celery broker at {broker} ({exc}): is it "
            "running, and is CELERY_BROKER_URL right?"
        ) from exc


def run_here(
    job: WarmJob, chunks: list[list[str]], on_progress: Callable[[WarmJob], None] | None = None
) -> WarmJob:
    """Warm the job's chunks in this process (`bitstore_warm --local`), retrying like the
    tasks do; call `on_progress(job)` after each chunk. Return the finished job."""
    with requested_by(task_id=f"local-warm-job-{job.pk}"):
        for index, hashes in enumerate(chunks):
            attempt = 0
            while hashes:
                hashes = warm_chunk(job.pk, index, hashes, attempt)
                if hashes:
                    time.sleep(retry_delay(attempt))
                    attempt += 1
            ledger.flush()
            if on_progress is not None:
                job.refresh_from_db()
                on_progress(job)
    job.refresh_from_db()
    return job
