"""A whole blob streamed from a tier, checked as it passes, and written into the cache.

`CheckedReader` passes a stream through, hashes it, and at its end raises `InvalidDataFound`
when the SHA1 differs (the blob endpoint holds its last chunk back until then, so a client
never receives a complete wrong body). With a cache `writer`, what is read is also written
into it, and committed only when the SHA1 matches. A reader closed before the end either
finishes the fill in the background (blobs up to `finish_max` bytes) or drops it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Callable

from .exceptions import InvalidDataFound
from .writer import BlobWriter

logger = logging.getLogger(__name__)

#: Bytes read at a time when a fill finishes in the background.
DRAIN_CHUNK = 1024 * 1024


class Sha1Check:
    """The running SHA1 of a blob, compared with its key at the end."""

    def __init__(self, sha1: str, store_name: str) -> None:
        self.sha1 = sha1
        self.store_name = store_name
        self._hash = hashlib.sha1()

    def update(self, chunk: bytes | memoryview) -> None:
        self._hash.update(chunk)

    def verify(self) -> None:
        """Raise `InvalidDataFound` unless the bytes seen have the key's SHA1."""
        actual = self._hash.hexdigest()
        if actual != self.sha1:
            raise InvalidDataFound(self.store_name, self.sha1, actual)


class CheckedReader(io.RawIOBase):
    """Pass a whole blob through `check` (None: the stream checks itself), and into
    `writer` when there is one.

    `on_progress()` runs as bytes pass; `on_invalid()` when the check fails;
    `on_done(committed)` once, when the fill is over (committed, dropped, or there was no
    writer). `left_early` then says whether the fill was dropped because the reader closed
    the stream before its end.
    """

    def __init__(
        self,
        inner,
        check: Sha1Check | None,
        writer: BlobWriter | None = None,
        *,
        finish_max: int = 0,
        on_progress: Callable[[], None] = lambda: None,
        on_invalid: Callable[[], None] = lambda: None,
        on_done: Callable[[bool], None] = lambda committed: None,
    ) -> None:
        self.size = inner.size
        self._inner = inner
        self._check = check
        self._writer = writer
        self._finish_max = finish_max
        self._on_progress = on_progress
        self._on_invalid = on_invalid
        self._on_done = on_done
        self.left_early = False
        self._position = 0
        self._over = False
        self._finished = False
        self._name = getattr(check, "sha1", "a blob")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        try:
            count = self._inner.readinto(target)
        except InvalidDataFound:  # a tier that verifies its own streams found it wrong
            self._invalid()
            raise
        if count:
            self._take(memoryview(target)[:count])
        elif not self._over:
            self._end()
        return count

    def _take(self, chunk: memoryview) -> None:
        self._position += len(chunk)
        self._on_progress()
        if self._check is not None:
            self._check.update(chunk)
        if self._writer is None:
            return
        try:
            self._writer.write(bytes(chunk))
        except Exception as exc:  # a failing cache never fails the read
            logger.warning("not caching %s: %s", self._name, exc)
            self._writer.abort()
            self._writer = None

    def _end(self) -> None:
        """The stream is over: check it, then commit or drop the fill."""
        self._over = True
        try:
            if self._check is not None:
                self._check.verify()
        except InvalidDataFound:
            self._invalid()
            raise
        self._finish(commit=True)

    def _invalid(self) -> None:
        self._over = True
        self._finish(commit=False)
        self._on_invalid()

    def _finish(self, commit: bool) -> None:
        """Commit or drop the fill, once."""
        if self._finished:
            return
        self._finished = True
        committed = False
        if self._writer is not None:
            if commit:
                try:
                    self._writer.commit()
                    committed = True
                except Exception as exc:
                    logger.warning("not caching %s: %s", self._name, exc)
            else:
                self._writer.abort()
        self._on_done(committed)

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        if self._over:
            self._inner.close()
        elif self._writer is not None and self.size - self._position <= self._finish_max:
            threading.Thread(target=self._drain, name="bitstore-fill", daemon=True).start()
        else:
            self._over = True
            self.left_early = self._writer is not None
            self._inner.close()
            self._finish(commit=False)

    def _drain(self) -> None:
        """Read the rest of a stream whose reader left early, and finish the fill."""
        try:
            buffer = bytearray(DRAIN_CHUNK)
            while count := self._inner.readinto(buffer):
                self._take(memoryview(buffer)[:count])
            self._end()
        except Exception as exc:
            logger.warning("filling the cache with %s after the reader left: %s", self._name, exc)
            self._finish(commit=False)
        finally:
            self._inner.close()
