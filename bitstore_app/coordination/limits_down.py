"""What the tier limits do when their Redis fails: let the call through (fail open), log the
first failure until Redis answers again, and count every one (/metrics reads `failures`)."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_down = False
#: Calls let through without their limits in this process, since it started.
failures = 0


def failed(what: str, exc: Exception) -> None:
    """Note a failed call to the limits' Redis: `what` names the limit that was let through."""
    global _down, failures
    with _lock:
        failures += 1
        first, _down = not _down, True
    if first:
        logger.warning("%s: Redis not available, limits not enforced until it is: %s", what, exc)


def answered() -> None:
    """Note that the limits' Redis answered (the next failure is logged again)."""
    global _down
    if _down:
        with _lock:
            _down = False
        logger.warning("tier limits: Redis answers again, limits are enforced")
