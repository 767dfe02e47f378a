"""One cache fill per blob: the first reader to reach a write-back source fetches the blob and
fills the cache; the others wait for that fill and read the cache.

Inside one process, readers wait on an event per key. Across processes, a `Leases` object
(the app passes its per-SHA1 leases in Redis) makes the first process's reader the only one
to fetch.

A fill streamed to a client lasts as long as the client takes to read it, so readers wait
for as long as the fill makes progress, not for a fixed time: the filling stream `touch`es
its claim as bytes pass (which also renews its lease), and a reader gives up only after
`wait` seconds without progress (a stuck or dead filler). When a fill is dropped because its
reader left early, one of the waiting readers takes it over; the others wait again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from .per_process import PerProcess, ProcessLock


class Leases(Protocol):
    """Leases shared by processes: `acquire` returns a token, or None after `wait` seconds;
    `renew` extends a lease still held by `token`."""

    def acquire(self, key: str, wait: float) -> str | None: ...

    def renew(self, key: str, token: str) -> None: ...

    def release(self, key: str, token: str) -> None: ...


@dataclass
class _Fill:
    """A fill in progress in this process, as the readers waiting for it see it."""

    event: threading.Event = field(default_factory=threading.Event)
    #: When the filler last showed progress (time.monotonic()).
    touched: float = field(default_factory=time.monotonic)
    #: The fill ended without filling the cache because its reader left: a waiting reader
    #: should take it over.
    dropped: bool = False


@dataclass
class Claim:
    """The right to fetch a blob from a source and fill the cache; `waited` says another
    reader filled it meanwhile (or tried to): ask the cache again first. `again` says the
    fill waited for was dropped: when the cache lacks the blob, claim it again."""

    gate: FillGate | None
    key: str
    waited: bool = False
    again: bool = False
    token: str | None = None
    fill: _Fill | None = None
    released: bool = field(default=False, repr=False)
    renewed: float = field(default_factory=time.monotonic, repr=False)

    def touch(self) -> None:
        """Say that the fill is progressing: readers waiting for it go on waiting, and the
        lease is renewed (at most every third of the gate's `wait`)."""
        if self.gate is None or self.released:
            return
        now = time.monotonic()
        self.fill.touched = now
        if self.token is not None and now - self.renewed >= self.gate.wait / 3:
            self.renewed = now
            self.gate.leases.renew(self.key, self.token)

    def release(self, dropped: bool = False) -> None:
        """Let the readers waiting for this fill go on (with `dropped`, one of them takes it
        over); calling it again does nothing."""
        if not self.released and self.gate is not None:
            self.released = True
            self.gate._release(self, dropped)


class FillGate:
    """Hand out one `Claim` per key at a time; later readers wait while the fill progresses,
    and up to `wait` seconds after its last progress."""

    def __init__(self, wait: float = 30.0, leases: Leases | None = None) -> None:
        self.wait = wait
        self.leases = leases
        # Fills led by the threads of this process: a forked child waits on none of them.
        self._fills: PerProcess[dict[str, _Fill]] = PerProcess()
        self._lock = ProcessLock()

    def claim(self, key: str) -> Claim:
        """Return the claim on `key`, after waiting for a fill in progress, if any."""
        with self._lock:
            fills = self._fills.get(dict)
            fill = fills.get(key)
            leader = fill is None
            if leader:
                fill = fills[key] = _Fill()
        if not leader:
            over = self._follow(fill)
            return Claim(None, key, waited=True, again=over and fill.dropped)
        claim = Claim(self, key, fill=fill)
        if self.leases is not None:
            claim.token = self.leases.acquire(key, 0)
            if claim.token is None:  # another process is filling: wait for its lease
                claim.waited = True
                claim.token = self._wait_for_lease(claim)
        return claim

    def _follow(self, fill: _Fill) -> bool:
        """Wait for `fill` while it progresses; return whether it is over (False: it made no
        progress for `wait` seconds)."""
        while not fill.event.wait(max(fill.touched + self.wait - time.monotonic(), 0.0)):
            if time.monotonic() - fill.touched >= self.wait:
                return False
        return True

    def _wait_for_lease(self, claim: Claim) -> str | None:
        """Wait for another process's lease on the key: it lasts while that process's fill
        progresses (each step renews it), and expires `wait` seconds after its last progress.
        The readers of this process that wait for this claim are told it is alive."""
        while True:
            claim.fill.touched = time.monotonic()
            token = self.leases.acquire(claim.key, self.wait / 3)
            if token is not None:
                return token

    def _release(self, claim: Claim, dropped: bool) -> None:
        if claim.token is not None:
            self.leases.release(claim.key, claim.token)
        with self._lock:
            fills = self._fills.get(dict)
            if fills.get(claim.key) is claim.fill:
                del fills[claim.key]
        claim.fill.dropped = dropped
        claim.fill.event.set()
