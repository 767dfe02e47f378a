"""Celery tasks: thin wrappers around warming/ that take SHA1 strings and ids.

    from bitstore_app.tasks import warm_cache
    result = warm_cache.delay(hashes)   # its result (with a result backend) holds the job id;
                                        # without one: WarmJob.objects.get(task_id=result.id)

Both tasks are acknowledged late, so a task whose worker dies is delivered again; warming
counts each chunk once however often it is delivered.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_init, worker_process_shutdown, worker_ready, worker_shutdown

from . import services, warming
from .ledger import buffer as ledger
from .warming import redis_broker, stalled
from .warming.chunk_task import CHUNK_RETRY_ERRORS, warm_chunk

__all__ = ["CHUNK_RETRY_ERRORS", "flush_ledger", "scrub_cache", "warm_cache", "warm_chunk"]


#: Task names are fixed rather than derived from the module path, so that messages queued by
#: an earlier release still run wherever the code moves.
@shared_task(
    name="bitstore_app.tasks.warm_cache", bind=True, acks_late=True, reject_on_worker_lost=True
)
def warm_cache(self, hashes: list[str], chunk_size: int | None = None, user_id=None) -> dict:
    """Create a warm job for the SHA1s and fan out its chunk tasks; return the job's id."""
    job = warming.start_warm_job(
        hashes, chunk_size, created_by=user_id, task_id=self.request.id or ""
    )
    return {"job_id": job.pk, "total": job.total, "chunks": job.chunks}


@shared_task(name="bitstore_app.tasks.scrub_cache")
def scrub_cache() -> list[dict]:
    """Re-verify the filesystem cache tiers (schedule it with celery beat); return what was
    checked and removed per folder."""
    return [
        {"folder": r.folder, "checked": r.checked, "removed": r.removed}
        for r in services.scrub_caches()
    ]


@worker_process_shutdown.connect(dispatch_uid="bitstore_ledger_flush_process")
@worker_shutdown.connect(dispatch_uid="bitstore_ledger_flush_worker")
def flush_ledger(**kwargs) -> None:
    """Write the ledger's buffer when a worker stops: prefork children skip atexit."""
    ledger.flush()


@worker_ready.connect(dispatch_uid="bitstore_stalled_jobs_watch")
def watch_stalled_jobs(**kwargs) -> None:
    """Start the worker's watch for warm jobs whose chunks a broker lost."""
    stalled.watch()


@worker_init.connect(dispatch_uid="bitstore_redis_broker_mend")
def mend_the_redis_transport(**kwargs) -> None:
    """Keep the worker running when Redis goes away under it (warming/redis_broker.py)."""
    redis_broker.mend()
