"""SDK clients built on first use, once per process, safely across threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .per_process import PerProcess


class LazyClient:
    """Mixin: `self.client()` builds the SDK client on first use in each process.

    A pickled or forked store rebuilds its client in the new process. A failed build is
    not remembered, so a tier whose endpoint comes back is usable again.
    """

    def make_client(self) -> Any:
        raise NotImplementedError

    @property
    def _clients(self) -> PerProcess:
        # Made on first use, so that subclasses need not call an __init__ of this mixin;
        # `setdefault` keeps two racing threads on one holder.
        holder = self.__dict__.get("_client_holder")
        if holder is None:
            holder = self.__dict__.setdefault("_client_holder", PerProcess())
        return holder

    def client(self) -> Any:
        return self._clients.get(self.make_client)

    def reset_client(self) -> None:
        """Forget the client; the next call builds a new one."""
        self._clients.clear()

    def replace_client(self, failed: Any, change: Callable[[], bool]) -> bool:
        """After `failed` was refused, apply `change()` and forget the client; return whether
        to try again (only the first of several threads that saw it fail applies `change`)."""
        return self._clients.discard(failed, change)
