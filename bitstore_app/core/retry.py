"""Retries of transient errors: bounded, with exponential backoff and full jitter.

Each tier says which of its SDK's errors are transient (a dropped or refused connection, an
HTTP 429 or 5xx, a throttling code). Timeouts are never retried, so that a tier that hangs
costs its timeout once; "not found" and "forbidden" are answers, never retried either.

A retry is one more request the tier receives: a wrapper that admits calls to a tier (its
monthly budget) admits each retry made within the call too (`admitting_retries`); a retry
it refuses is not made, and the call fails with the last error.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Run before each retry in this thread's call; raises to refuse it (`admitting_retries`).
_admit_retry: ContextVar[Callable[[], None] | None] = ContextVar("admit_retry", default=None)


@contextlib.contextmanager
def admitting_retries(admit: Callable[[], None]) -> Iterator[None]:
    """Within the block, run `admit()` before each retry made in this thread, after what
    enclosing blocks run; an exception it raises refuses the retry."""
    outer = _admit_retry.get()

    def both() -> None:
        if outer is not None:
            outer()
        admit()

    token = _admit_retry.set(both)
    try:
        yield
    finally:
        _admit_retry.reset(token)


def _retry_admitted(what: str) -> bool:
    admit = _admit_retry.get()
    if admit is None:
        return True
    try:
        admit()
    except Exception as refusal:
        logger.info("not retrying %s: %s", what, refusal)
        return False
    return True


#: HTTP statuses worth another try: throttled, or a server error.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def backoff_delay(attempt: int, base: float = 0.05, cap: float = 1.0) -> float:
    """Return the pause before retry number `attempt` (0 first): uniform in [0, base * 2**n],
    capped ("full jitter"), so that clients that failed together do not retry together."""
    return random.uniform(0.0, min(cap, base * 2**attempt))


def call_with_retries(
    work: Callable[[], T],
    *,
    retries: int,
    transient: Callable[[BaseException], bool],
    deadline: float | None = None,
    what: str = "",
) -> T:
    """Return `work()`, calling it again up to `retries` times while it raises an error that
    `transient(error)` accepts; stop early once `deadline` seconds would be exceeded."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return work()
        except Exception as exc:
            if attempt >= retries or not transient(exc):
                raise
            delay = backoff_delay(attempt)
            if deadline is not None and time.monotonic() - started + delay > deadline:
                raise
            logger.info("retrying %s in %.3f s after: %s", what or work, delay, exc)
            time.sleep(delay)
            if not _retry_admitted(what or str(work)):
                raise
            attempt += 1
