"""One chunk of a warm job: warm its blobs and count them into the job, once.

A blob already in the cache costs one existence check and no download; the others are
fetched from the source tiers (each behind its rate limit, and checked against its SHA1) and
written into the cache tier. Every fetch goes to the ledger.

Each attempt at a chunk is recorded together with the counts it adds, in one transaction:
a chunk delivered twice (its worker died before acknowledging it) is counted once. The SHA1s
that failed for a transient reason (a tier not available, a timeout, throttling) are carried
into the next attempt; after the last one they are counted as failed.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..conf import bitstore_settings
from ..core import map_in_order
from ..core.retry import backoff_delay
from ..models import WarmChunk, WarmJob
from ..requester import current_requester, requested_by
from .one_blob import FAILED, INVALID, TRANSIENT, NoCacheTier, Outcome, Plan, current_plan, warm_one

logger = logging.getLogger(__name__)


def retry_delay(attempt: int) -> float:
    """Return the seconds before attempt `attempt + 1`: exponential, jittered, capped."""
    return backoff_delay(
        attempt,
        base=bitstore_settings.WARM_RETRY_BACKOFF,
        cap=bitstore_settings.WARM_RETRY_BACKOFF_MAX,
    )


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
