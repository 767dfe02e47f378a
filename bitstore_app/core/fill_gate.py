"""One cache fill per blob: the first reader to reach a write-back source fetches the blob and
fills the cache; the others wait for that fill and read the cache.

Inside one process, readers wait on an event per key. Across processes, a `Leases` object
(the app passes its per-SHA1 leases in Redis) makes the first process's reader the only one
to fetch, for as long as its lease lasts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from .per_process import PerProcess, ProcessLock


class Leases(Protocol):
    """Leases shared by processes: `acquire` returns a token, or None after `wait` seconds."""

    def acquire(self, key: str, wait: float) -> str | None: ...

    def release(self, key: str, token: str) -> None: ...


@dataclass
class Claim:
    """The right to fetch a blob from a source and fill the cache; `waited` says another
    reader filled it meanwhile (or tried to): ask the cache again first."""

    gate: FillGate | None
    key: str
    waited: bool = False
    token: str | None = None
    event: threading.Event | None = None
    released: bool = field(default=False, repr=False)

    def release(self) -> None:
        """Let the readers waiting for this fill go on; calling it again does nothing."""
        if not self.released and self.gate is not None:
            self.released = True
            self.gate._release(self)


class FillGate:
    """Hand out one `Claim` per key at a time; later readers wait up to `wait` seconds."""

    def __init__(self, wait: float = 30.0, leases: Leases | None = None) -> None:
        self.wait = wait
        self.leases = leases
        # Fills led by the threads of this process: a forked child waits on none of them.
        self._fills: PerProcess[dict[str, threading.Event]] = PerProcess()
        self._lock = ProcessLock()

    def claim(self, key: str) -> Claim:
        """Return the claim on `key`, after waiting for a fill in progress, if any."""
        with self._lock:
            fills = self._fills.get(dict)
            event = fills.get(key)
            leader = event is None
            if leader:
                event = fills[key] = threading.Event()
        if not leader:
            event.wait(self.wait)
            return Claim(None, key, waited=True)
        claim = Claim(self, key, event=event)
        if self.leases is not None:
            claim.token = self.leases.acquire(key, 0)
            if claim.token is None:  # another process is filling: wait for its lease
                claim.waited = True
                claim.token = self.leases.acquire(key, self.wait)
        return claim

    def _release(self, claim: Claim) -> None:
        if claim.token is not None:
            self.leases.release(claim.key, claim.token)
        with self._lock:
            fills = self._fills.get(dict)
            if fills.get(claim.key) is claim.event:
                del fills[claim.key]
        claim.event.set()
