"""The Celery task that warms one chunk of a job; `bitstore_app.tasks` re-exports it.

It lives beside the jobs that enqueue it, so that warming never imports `tasks` (which imports
warming); its name stays `bitstore_app.tasks.warm_chunk`, so queued messages still run.
"""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from ..conf import bitstore_settings
from ..core import StoreNotAvailable
from ..ledger import buffer as ledger
from ..requester import requested_by
from .chunks import retry_delay
from .chunks import warm_chunk as warm_chunk_here

#: Errors of the chunk rather than of one blob (the database is down, say): the whole chunk
#: is tried again later.
CHUNK_RETRY_ERRORS = (DatabaseError, StoreNotAvailable)


# max_retries=None: warming bounds the retries itself (its last attempt counts what still
# fails as failed), and CHUNK_RETRY_ERRORS pass their own bound.
@shared_task(
    name="bitstore_app.tasks.warm_chunk",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def warm_chunk(self, job_id: int, index: int, hashes: list[str]) -> None:
    """Warm one chunk of a job; try its transient failures again later."""
    attempt = self.request.retries
    with requested_by(task_id=self.request.id or ""):
        try:
            retry = warm_chunk_here(job_id, index, hashes, attempt)
        except CHUNK_RETRY_ERRORS as exc:
            raise self.retry(
                exc=exc,
                countdown=retry_delay(attempt),
                max_retries=bitstore_settings.WARM_MAX_RETRIES,
            ) from exc
        finally:
            ledger.flush()
    if retry:
        raise self.retry(args=(job_id, index, retry), countdown=retry_delay(attempt))
