"""SDK clients built on first use, once per process, safely across threads."""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
os.register_at_fork(after_in_child=lambda: globals().update(_lock=threading.Lock()))


class LazyClient:
    """Mixin: `self.client()` builds the SDK client on first use in each process.

    A pickled or forked store rebuilds its client in the new process. A failed build is
    not remembered, so a tier whose endpoint comes back is usable again.
    """

    _client_value: Any = None
    _client_pid: int | None = None

    def make_client(self) -> Any:
        raise NotImplementedError

    def client(self) -> Any:
        pid = os.getpid()
        if self._client_pid != pid:
            with _lock:
                if self._client_pid != pid:
                    self._client_value = self.make_client()
                    self._client_pid = pid
        return self._client_value

    def reset_client(self) -> None:
        """Forget the client; the next call builds a new one."""
        self._client_pid = None
        self._client_value = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_client_value", None)
        state.pop("_client_pid", None)
        return state
