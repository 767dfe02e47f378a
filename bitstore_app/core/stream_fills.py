"""How a streaming read fills the cache levels: a small blob read and checked whole, a large
one teed into the levels' writers as it is read, a range followed by a fill in the background.

`StreamFills` is a part of `Composite` (composite.py), kept apart because it is one concern:
the methods below are called from the composite's pass over the tiers.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from functools import partial
from typing import Any, BinaryIO

from .exceptions import InvalidDataFound
from .store import BytesReader, Store
from .tee import DRAIN_CHUNK, CheckedReader
from .writer import FanOutWriter

logger = logging.getLogger(__name__)


class _NoCheck:
    """The check of a key that is not a hash: it accepts any bytes."""

    sha1 = ""

    def update(self, chunk: bytes | memoryview) -> None:
        pass

    def verify(self) -> None:
        pass


class StreamFills:
    """The composite's streaming reads that fill the cache levels (a mixin of `Composite`)."""

    def _read_checked(
        self, p: Any, store: Store, stream: BinaryIO, targets: list[Store]
    ) -> BinaryIO:
        """Read a small blob whole and check it before anything is sent: a wrong one is
        "invalid" (and dropped from the cache), so the next tier is asked."""
        if not p.whole:  # a range of a cached blob: read it all, to check it
            stream.close()
            stream = store.open(p.key)
        with stream:
            data = stream.read()
        check = self.check_for(p.key, store)
        if check is not None:
            check.update(data)
            try:
                check.verify()
            except InvalidDataFound:
                self._discard(store, p.key)
                raise
        if targets:
            self._filled(p, self._write_into(p.key, data, targets))
        return BytesReader(data, p.start, p.end)

    def _tee(self, p: Any, store: Store, stream: BinaryIO, targets: list[Store]) -> BinaryIO:
        """Stream a whole blob into the cache levels `targets` as it is read: from a
        write-back source, or from a lower level (a promotion). Each level's writer commits
        only when the whole blob's SHA1 matched."""
        claim, p.claim = p.claim, None  # the fill holds it until it is over
        writers = []
        for level in targets:
            try:
                writers.append((level, level.open_writer(p.key)))
            except Exception as exc:
                logger.warning("%s: could not cache %s: %s", level, p.key, exc)
        fan = FanOutWriter([], writers) if writers else None

        def done(committed: bool) -> None:
            written = fan.committed if committed and fan is not None else []
            p.result.written_to = [str(level) for level in written]
            if written:
                self._written(p.key, written)
            if claim is not None:  # a fill dropped because its reader left: another takes over
                claim.release(dropped=reader.left_early)

        check = self.check_for(p.key, store) or _NoCheck()
        reader = CheckedReader(
            stream,
            check,
            fan,
            finish_max=self.fill_after_disconnect_max_bytes,
            on_progress=claim.touch if claim is not None else lambda: None,
            on_invalid=partial(self._discard, store, p.key),
            on_done=done,
        )
        return reader

    def _fill_later(self, key: str) -> None:
        """Fill the cache levels with the whole blob in the background (after a range was
        served), in the context of the read that asked (its requester, for the ledger)."""
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._fill, key), name="bitstore-fill", daemon=True
        ).start()

    def _fill(self, key: str) -> None:
        """Read the whole blob through the levels' writers, as a stream (constant memory), and
        report the fetch to `on_background_fetch`: it asked a source of its own."""
        report = self.on_background_fetch or (lambda fetch: None)
        try:
            result = self.open_fetch(key, on_close=report)
            if result.error is not None:
                report(result)
                raise result.error
            with result.stream as stream:
                while stream.read(DRAIN_CHUNK):
                    pass
        except Exception as exc:  # a background fill never fails anyone's read
            logger.warning("filling the cache levels with %s: %s", key, exc)
