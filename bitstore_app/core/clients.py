"""SDK clients built on first use, once per process, safely across threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
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

    def replace_client(self, failed: Any, change: Callable[[], bool]) -> bool:
        """After `failed` was refused, apply `change()` and forget the client; return whether
        to try again.

        When several threads see the same client fail, only the first applies `change`; the
        others just retry with the client it built. Holding the build lock keeps a client from
        being built with the settings of before `change`.
        """
        with _lock:
            if self._client_pid != os.getpid() or self._client_value is not failed:
                return True
            if not change():
                return False
            self.reset_client()
            return True

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_client_value", None)
        state.pop("_client_pid", None)
        return state
