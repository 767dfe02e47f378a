"""Warm jobs whose chunks went missing, and the watch that sends those chunks again.

A broker can lose a chunk's message: Redis, stopped while it hands one out, may drop it, or
hold it back for minutes behind a lock its restore scan never released; the filesystem broker
deletes a message as it hands it out, so a killed worker's chunk is gone. Such a job would
wait forever. Every worker watches: a job that has counted nothing for WARM_STALL_AFTER
seconds gets its unfinished chunks sent again, each at the attempt it had reached. One worker
claims the job (a conditional update), so the others send nothing; a chunk that was only
late runs twice and is counted once, its blobs already cached costing one existence check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

from django.db import connections
from django.db.models import F, Max
from django.utils import timezone

from ..conf import bitstore_settings
from ..models import WarmJob, WarmJobHashes
from .jobs import BrokerUnavailable, Entries, enqueue

logger = logging.getLogger(__name__)

#: Seconds between the watch's looks at most (it looks four times per WARM_STALL_AFTER).
MAX_WATCH_INTERVAL = 60.0

_watch_lock = threading.Lock()
_watching = False


def resend_stalled() -> dict[int, int]:
    """Send again the unfinished chunks of every job that has stalled; return {job id: chunks
    sent} for the jobs this process claimed."""
    stall = bitstore_settings.WARM_STALL_AFTER
    if not stall:
        return {}
    now = timezone.now()
    sent = {}
    for job in _stalled(now - timedelta(seconds=stall)):
        claimed = WarmJob.objects.filter(pk=job.pk, resent_at=job.resent_at).update(resent_at=now)
        if not claimed:  # another worker's watch took it
            continue
        chunks = unfinished_chunks(job)
        if not chunks:
            continue
        try:
            enqueue(job.pk, chunks)
        except BrokerUnavailable:  # let the next look (of any worker) claim the job again
            WarmJob.objects.filter(pk=job.pk, resent_at=now).update(resent_at=job.resent_at)
            raise
        WarmJob.objects.filter(pk=job.pk).update(chunks_resent=F("chunks_resent") + len(chunks))
        logger.warning(
            "warm job %s counted nothing for %.0f s: %d unfinished chunk(s) sent again",
            job.pk,
            (now - job.moved_at).total_seconds(),
            len(chunks),
        )
        sent[job.pk] = len(chunks)
    return sent


def _stalled(cutoff) -> Iterator[WarmJob]:
    """Yield the unfinished jobs (with their SHA1s kept) that have not moved since `cutoff`:
    not created, started, counted into or sent again."""
    jobs = (
        WarmJob.objects.filter(
            finished_at__isnull=True, chunks__gt=0, created_at__lt=cutoff, input__isnull=False
        )
        .annotate(last_counted=Max("chunk_attempts__finished_at"))
        .only("created_at", "started_at", "resent_at", "chunk_size")
    )
    for job in jobs:
        times = (job.created_at, job.started_at, job.last_counted, job.resent_at)
        job.moved_at = max(moment for moment in times if moment is not None)
        if job.moved_at < cutoff:
            yield job


def unfinished_chunks(job: WarmJob) -> list[tuple[int, list[str], int]]:
    """Return the chunks of `job` still to run, as (index, SHA1s, attempt): those never
    counted from their first SHA1, and those whose last attempt left SHA1s to try again."""
    hashes = WarmJobHashes.objects.get(job=job).hashes
    last: dict[int, tuple[int, list[str]]] = {}
    attempts = job.chunk_attempts.order_by("index", "attempt")
    for index, attempt, retry in attempts.values_list("index", "attempt", "retry_hashes"):
        last[index] = (attempt, retry)
    unfinished = []
    for index, chunk in enumerate(Entries(hashes, []).chunks(job.chunk_size)):
        if index not in last:
            unfinished.append((index, chunk, 0))
        elif last[index][1]:
            attempt, retry = last[index]
            unfinished.append((index, retry, attempt + 1))
    return unfinished


def watch() -> None:
    """Start this process's watch for stalled jobs (once; a daemon thread)."""
    global _watching
    if not bitstore_settings.WARM_STALL_AFTER:
        return
    with _watch_lock:
        if _watching:
            return
        _watching = True
    threading.Thread(target=_watch, name="bitstore-stalled-jobs", daemon=True).start()


def _watch() -> None:
    interval = min(MAX_WATCH_INTERVAL, bitstore_settings.WARM_STALL_AFTER / 4)
    while True:
        time.sleep(interval)
        try:
            resend_stalled()
        except BrokerUnavailable as exc:
            logger.warning("warming: cannot send a stalled job's chunks again: %s", exc)
        except Exception:  # the database is down, say: look again later
            logger.exception("warming: cannot look for stalled jobs")
        finally:
            connections.close_all()  # this thread's own: idle until the next look
