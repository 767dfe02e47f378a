"""Who is asking: the user of a web request or the id of a Celery task, for the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Requester:
    user_id: int | None = None
    task_id: str = ""


NOBODY = Requester()
_current: ContextVar[Requester | None] = ContextVar("bitstore_requester", default=None)


def current_requester() -> Requester:
    return _current.get() or NOBODY


@contextmanager
def requested_by(user_id: int | None = None, task_id: str = "") -> Iterator[None]:
    """Attribute the fetches made inside the block to a user or a task."""
    token = _current.set(Requester(user_id, task_id or ""))
    try:
        yield
    finally:
        _current.reset(token)
