"""How a streaming read fills the cache: a small blob read and checked whole, a large one
teed into the cache's writer as it is read, a range followed by a fill in the background.

`StreamFills` is a part of `Composite` (composite.py), kept apart because it is one concern:
the methods below are called from the composite's pass over the tiers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, BinaryIO

from .exceptions import InvalidDataFound
from .store import BytesReader, Store
from .tee import DRAIN_CHUNK, CheckedReader

logger = logging.getLogger(__name__)


class _NoCheck:
    """The check of a key that is not a hash: it accepts any bytes."""

    sha1 = ""

    def update(self, chunk: bytes | memoryview) -> None:
        pass

    def verify(self) -> None:
        pass


class StreamFills:
    """The composite's streaming reads that fill the cache (a mixin of `Composite`)."""

    def _read_checked(self, p: Any, store: Store, stream: BinaryIO) -> BinaryIO:
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
        if self._fills(store):
            p.result.cache_written = self.write_back(p.key, data)
            self._release(p)
        return BytesReader(data, p.start, p.end)

    def _tee(self, p: Any, store: Store, stream: BinaryIO) -> BinaryIO:
        """Stream a whole blob from a write-back source into the cache as it is read."""
        claim, p.claim = p.claim, None  # the fill holds it until it is over
        try:
            writer = self.cache.open_writer(p.key)
        except Exception as exc:
            logger.warning("%s: could not cache %s: %s", self.cache, p.key, exc)
            writer = None

        def done(committed: bool) -> None:
            if committed:
                p.result.cache_written = True
                self._written(p.key, self.cache)
            if claim is not None:  # a fill dropped because its reader left: another takes over
                claim.release(dropped=reader.left_early)

        check = self.check_for(p.key, store) or _NoCheck()
        reader = CheckedReader(
            stream,
            check,
            writer,
            finish_max=self.fill_after_disconnect_max_bytes,
            on_progress=claim.touch if claim is not None else lambda: None,
            on_done=done,
        )
        return reader

    def _fill_later(self, key: str) -> None:
        """Fill the cache with the whole blob in the background (after a range was served)."""
        threading.Thread(target=self._fill, args=(key,), name="bitstore-fill", daemon=True).start()

    def _fill(self, key: str) -> None:
        """Read the whole blob through the cache's writer, as a stream: constant memory."""
        try:
            with self.open(key) as stream:
                while stream.read(DRAIN_CHUNK):
                    pass
        except Exception as exc:  # a background fill never fails anyone's read
            logger.warning("filling the cache with %s: %s", key, exc)
