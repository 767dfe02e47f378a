"""A mend for kombu's Redis transport (kombu 5.7.0, Celery 5.7.0): a worker that loses Redis
while it waits for a message, holding unacknowledged ones, exits instead of reconnecting.

On a lost connection Celery's consumer first collects the connection, which detaches its
transport, then closes it. When the collect's own close was cut short (the BRPOP the worker
was waiting on, then the remote control's fanout queue, fail on the dead connection), the
second close tries to put the unacknowledged messages back and kombu reads the detached
transport's address: an AttributeError, which Celery takes as unrecoverable. Nothing can be
put back while Redis is down anyway (the visibility timeout brings those messages back), so
the mend makes that read a connection error, which the close ignores like the others.
Workers apply it when they start (`worker_init`, in tasks.py).
"""

from __future__ import annotations

import functools


def mend() -> None:
    """Make a closed Redis channel's reconnect attempt a connection error (once)."""
    try:
        import redis
        from kombu.transport.redis import Channel
    except ImportError:  # no Redis client: no Redis broker either
        return
    original = Channel._connparams
    if getattr(original, "mended", False):
        return

    @functools.wraps(original)
    def connparams(channel: Channel, *args, **kwargs) -> dict:
        if channel.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return original(channel, *args, **kwargs)

    connparams.mended = True  # type: ignore[attr-defined]
    Channel._connparams = connparams
