"""Who is asking: the user of a web request or the id of a Celery task, for the ledger.

Any Celery task is named without help; a view is, through `RequesterMiddleware`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Requester:
    user_id: int | None = None
    task_id: str = ""


NOBODY = Requester()
#: The requester, or a function that names it when a fetch is first recorded.
_current: ContextVar[Requester | Callable[[], Requester] | None] = ContextVar(
    "bitstore_requester", default=None
)


def current_requester() -> Requester:
    """Return who is asking: as set by `requested_by`, else the running Celery task."""
    current = _current.get()
    if callable(current):
        current = current()
    return current or _celery_task() or NOBODY


def _celery_task() -> Requester | None:
    celery = sys.modules.get("celery")  # a process that never imported Celery runs no task
    task = celery.current_task if celery is not None else None
    task_id = getattr(getattr(task, "request", None), "id", None) if task else None
    return Requester(task_id=task_id) if task_id else None


@contextmanager
def requested_by(user_id: int | None = None, task_id: str = "") -> Iterator[None]:
    """Attribute the fetches made inside the block to a user or a task."""
    with requested_lazily(Requester(user_id, task_id or "")):
        yield


@contextmanager
def requested_lazily(requester: Requester | Callable[[], Requester]) -> Iterator[None]:
    """Attribute the fetches made inside the block to `requester`, which may be a function
    called only when a fetch is recorded (so that a request that fetches nothing costs
    nothing, such as a session lookup)."""
    token = _current.set(requester)
    try:
        yield
    finally:
        _current.reset(token)
