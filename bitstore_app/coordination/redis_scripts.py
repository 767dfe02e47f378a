"""A Lua script on a Redis server, called through one client per process."""

from __future__ import annotations

import os
from typing import Any


class RedisScript:
    """Run `source` on the Redis at `url`; the client is made anew in each process, since
    connections do not survive a fork."""

    def __init__(self, url: str, source: str, timeout: float) -> None:
        self.url = url
        self.source = source
        self.timeout = timeout
        self._client: Any = None
        self._script: Any = None
        self._pid: int | None = None

    def client(self) -> Any:
        """Return this process's Redis client."""
        if self._pid != os.getpid():
            import redis

            self._client = redis.Redis.from_url(
                self.url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
            )
            self._script = self._client.register_script(self.source)
            self._pid = os.getpid()
        return self._client

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        self.client()
        return self._script(keys=keys, args=args)
