"""Cache warming: fetch the blobs the cache tier lacks from the sources and write them in.

A job (`WarmJob`) is split into chunks; each chunk is one Celery task (tasks.py) that calls
`warm_chunk`. A blob already in the cache costs one existence check and no download; the
others are fetched from the source tiers (each behind its rate limit, and checked against
its SHA1) and written into the cache tier. Every fetch goes to the ledger.

Each attempt at a chunk is recorded together with the counts it adds, in one transaction:
a chunk delivered twice (its worker died before acknowledging it) is counted once. The SHA1s
that failed for a transient reason (a tier not available, a timeout, throttling) are carried
into the next attempt; after the last one they are counted as failed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .conf import bitstore_settings
from .core import is_sha1, map_in_order, parse_sha1
from .core.retry import backoff_delay
from .ledger import buffer as ledger
from .models import WarmChunk, WarmJob
from .requester import current_requester, requested_by
from .warm_blob import (
    FAILED,
    INVALID,
    TRANSIENT,
    NoCacheTier,
    Outcome,
    Plan,
    current_plan,
    warm_one,
)

logger = logging.getLogger(__name__)

# -- Jobs ------------------------------------------------------------------------------------


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
                malformed.append(str(item)[:200])
        return cls(list(hashes), malformed)

    def chunks(self, size: int) -> list[list[str]]:
        return [self.hashes[start : start + size] for start in range(0, len(self.hashes), size)]


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
    transaction.on_commit(lambda: _enqueue(job.pk, list(enumerate(chunks))))
    return job


def create_job(
    hashes: Iterable[object], chunk_size: int | None = None
) -> tuple[WarmJob, list[list[str]]]:
    """Create a job's record and return it with its chunks, enqueuing nothing (the chunks
    are then warmed here, with `run_here`)."""
    return _create(Entries.read(hashes), chunk_size)


def _create(
    entries: Entries,
    chunk_size: int | None,
    created_by: int | None = None,
    task_id: str = "",
    retry_of: int | None = None,
) -> tuple[WarmJob, list[list[str]]]:
    current_plan()  # no cache tier: say so now rather than in every task
    size = int(chunk_size or bitstore_settings.WARM_CHUNK_SIZE)
    if size < 1:
        raise ValueError(f"the chunk size must be at least 1, not {size}")
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
    return job, chunks


def retry_job(job: WarmJob, created_by: int | None = None) -> WarmJob | None:
    """Start a job for the SHA1s of `job` that failed or had invalid data; None if none did."""
    hashes = job.retryable_hashes
    if not hashes:
        return None
    return start_warm_job(hashes, job.chunk_size or None, created_by=created_by, retry_of=job.pk)


def _resume(job: WarmJob, entries: Entries) -> WarmJob:
    started = set(job.chunk_attempts.values_list("index", flat=True))
    chunks = [(i, c) for i, c in enumerate(entries.chunks(job.chunk_size)) if i not in started]
    logger.info("warm job %s delivered again: %d chunks enqueued again", job.pk, len(chunks))
    transaction.on_commit(lambda: _enqueue(job.pk, chunks))
    return job


def _enqueue(job_id: int, chunks: list[tuple[int, list[str]]]) -> None:
    # tasks.py imports this module, so the task is looked up only when chunks are sent.
    from .tasks import warm_chunk

    for index, hashes in chunks:
        warm_chunk.apply_async((job_id, index, hashes))


def retry_delay(attempt: int) -> float:
    """Return the seconds before attempt `attempt + 1`: exponential, jittered, capped."""
    return backoff_delay(
        attempt,
        base=bitstore_settings.WARM_RETRY_BACKOFF,
        cap=bitstore_settings.WARM_RETRY_BACKOFF_MAX,
    )


# -- One chunk ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What one attempt at a chunk adds to its job."""

    counts: Counter = field(default_factory=Counter)
    bytes: int = 0
    failed: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)

    def add(self, sha1: str, outcome: Outcome, final: bool) -> None:
        kind = outcome.kind
        if kind == TRANSIENT:
            if not final:
                self.retry.append(sha1)
                return
            kind = FAILED
        self.counts[kind] += 1
        self.bytes += outcome.size
        if kind == FAILED:
            self.failed.append(sha1)
        elif kind == INVALID:
            self.invalid.append(sha1)


def warm_chunk(job_id: int, index: int, hashes: list[str], attempt: int = 0) -> list[str]:
    """Warm one chunk of a job and count it; return the SHA1s to try again later.

    The last attempt (WARM_MAX_RETRIES) counts what still fails as failed and returns [].
    """
    recorded = _recorded_retry(job_id, index, attempt)
    if recorded is not None:
        logger.info("warm job %s chunk %s attempt %s: counted already", job_id, index, attempt)
        return recorded
    if not _mark_started(job_id):
        logger.warning("warm job %s no longer exists: chunk %s dropped", job_id, index)
        return []
    try:
        outcomes = _warm_all(current_plan(), hashes)
    except NoCacheTier as exc:  # the cache tier was disabled meanwhile: maybe not for long
        logger.warning("warm job %s chunk %s: %s", job_id, index, exc)
        outcomes = [Outcome(TRANSIENT)] * len(hashes)
    final = attempt >= bitstore_settings.WARM_MAX_RETRIES
    tally = Tally()
    for sha1, outcome in zip(hashes, outcomes, strict=True):
        tally.add(sha1, outcome, final)
    return _count(job_id, index, attempt, tally)


def _warm_all(plan: Plan, hashes: list[str]) -> list[Outcome]:
    requester = current_requester()

    def one(sha1: str) -> Outcome:
        with requested_by(requester.user_id, requester.task_id):
            try:
                return warm_one(plan, sha1)
            except Exception:
                logger.exception("warming %s failed", sha1)
                return Outcome(FAILED)

    return list(map_in_order(one, hashes, workers=bitstore_settings.WARM_CONCURRENCY))


def _recorded_retry(job_id: int, index: int, attempt: int) -> list[str] | None:
    rows = WarmChunk.objects.filter(job_id=job_id, index=index, attempt=attempt)
    return rows.values_list("retry_hashes", flat=True).first()


def _mark_started(job_id: int) -> bool:
    """Mark the job running if it is not yet; return whether it exists."""
    started = WarmJob.objects.filter(pk=job_id).values_list("started_at", flat=True)
    if not started:
        return False
    if started[0] is None:
        WarmJob.objects.filter(pk=job_id, started_at__isnull=True).update(
            started_at=timezone.now(), status=WarmJob.RUNNING
        )
    return True


def _count(job_id: int, index: int, attempt: int, tally: Tally) -> list[str]:
    """Add the tally to the job, once per (chunk, attempt), and finish the job when all of
    its entries are counted."""
    try:
        with transaction.atomic():
            # The marker comes first: on SQLite it takes the write lock before any read.
            WarmChunk.objects.create(
                job_id=job_id, index=index, attempt=attempt, retry_hashes=tally.retry
            )
            increments = {name: F(name) + n for name, n in tally.counts.items() if n}
            WarmJob.objects.filter(pk=job_id).update(bytes=F("bytes") + tally.bytes, **increments)
            _finish_counting(WarmJob.objects.select_for_update().get(pk=job_id), tally)
    except IntegrityError:
        recorded = _recorded_retry(job_id, index, attempt)
        if recorded is None:
            raise
        logger.info(
            "warm job %s chunk %s attempt %s: counted by another delivery", job_id, index, attempt
        )
        return recorded
    return tally.retry


def _finish_counting(job: WarmJob, tally: Tally) -> None:
    """Append the chunk's failed and invalid SHA1s, and finish the job if it is complete.
    Runs in the counting transaction, with the job's row locked by its update."""
    fields = []
    if tally.failed:
        job.failed_hashes = [*job.failed_hashes, *tally.failed]
        fields.append("failed_hashes")
    if tally.invalid:
        job.invalid_hashes = [*job.invalid_hashes, *tally.invalid]
        fields.append("invalid_hashes")
    if job.finished_at is None and job.processed >= job.total:
        job.finished_at = timezone.now()
        job.status = WarmJob.DONE_WITH_ERRORS if job.failed or job.invalid else WarmJob.DONE
        fields += ["finished_at", "status"]
    if fields:
        job.save(update_fields=fields)


# -- In this process -------------------------------------------------------------------------


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
