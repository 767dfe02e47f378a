"""A Lua script on a Redis server, called through one client per process."""

from __future__ import annotations

from typing import Any

from ..core.per_process import PerProcess


class RedisScript:
    """Run `source` on the Redis at `url`; the client is made anew in each process, since
    connections do not survive a fork."""

    def __init__(self, url: str, source: str, timeout: float) -> None:
        self.url = url
        self.source = source
        self.timeout = timeout
        self._connection: PerProcess[tuple[Any, Any]] = PerProcess()

    def _connect(self) -> tuple[Any, Any]:
        import redis

        client = redis.Redis.from_url(
            self.url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
        )
        return client, client.register_script(self.source)

    def client(self) -> Any:
        """Return this process's Redis client."""
        return self._connection.get(self._connect)[0]

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        script = self._connection.get(self._connect)[1]
        return script(keys=keys, args=args)
