"""Retries of transient errors: bounded, with exponential backoff and full jitter.

Each tier says which of its SDK's errors are transient (a dropped or refused connection, an
HTTP 429 or 5xx, a throttling code). Timeouts are never retried, so that a tier that hangs
costs its timeout once; "not found" and "forbidden" are answers, never retried either.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

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
            attempt += 1
