"""Whether a Celery worker takes the warm jobs: the queue their chunks go to, the workers that
read it, and what to say when a job has waited too long for one."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from ..conf import bitstore_settings
from ..models import WarmJob

logger = logging.getLogger(__name__)

#: Seconds to wait for the workers' answers to "which queues do you read?".
PING_TIMEOUT = 1.0


def chunk_queue() -> str:
    """Return the name of the queue that warm chunk tasks are sent to (after task routes)."""
    from .chunk_task import warm_chunk

    route = warm_chunk.app.amqp.router.route({}, warm_chunk.name)
    return route["queue"].name


def workers_reading(queue: str) -> list[str] | None:
    """Return the names of the running workers that read `queue`, or None when the broker
    cannot be asked."""
    from .chunk_task import warm_chunk

    try:
        answers = warm_chunk.app.control.inspect(timeout=PING_TIMEOUT).active_queues() or {}
    except Exception as exc:  # whatever the transport raises when its broker is unreachable
        logger.warning("warming: cannot ask the broker which workers run: %s", exc)
        return None
    return sorted(
        worker
        for worker, queues in answers.items()
        if any(entry.get("name") == queue for entry in queues or ())
    )


def waiting_note(job: WarmJob) -> str | None:
    """Return why `job` is still queued after `WARM_WORKER_WAIT` seconds, and what to start;
    None while no worker is overdue."""
    if job.started_at is not None or job.finished_at is not None or job.chunks == 0:
        return None
    waited = (timezone.now() - job.created_at).total_seconds()
    if waited < bitstore_settings.WARM_WORKER_WAIT:
        return None
    from .chunk_task import warm_chunk

    queue = chunk_queue()
    waiting = f"no worker has taken warm job {job.pk} in {waited:.0f} s"
    if _is_fallback(warm_chunk.app):
        package = (settings.SETTINGS_MODULE or "mysite.settings").split(".")[0]
        return (
            f"{waiting}: no Celery app is configured, so bitstore's tasks went to Celery's "
            f"fallback app (queue '{queue}'), which no worker of the project reads; create "
            f"{package}/celery.py and import its app in {package}/__init__.py (README, "
            f"Install into your project, step 4), then start a worker"
        )
    start = f"celery -A {warm_chunk.app.main} worker -Q {queue}"
    readers = workers_reading(queue)
    if readers is None:
        return f"{waiting}, and the Celery broker does not answer: is it running?"
    if not readers:
        return f"{waiting}: no Celery worker reads the queue '{queue}'; start one: {start}"
    return (
        f"{waiting}, although {len(readers)} worker(s) read the queue '{queue}' "
        f"({', '.join(readers)}): they are busy with other tasks, or cannot reach the database"
    )


def _is_fallback(app) -> bool:
    """Return whether `app` is the app Celery makes up when a process never created one (the
    project's celery.py was never imported): its configuration is not the project's."""
    # celery._state makes it as Celery("default", set_as_current=False); a project's app is
    # named after the project and made the current app.
    return app.main == "default" and not app.set_as_current
