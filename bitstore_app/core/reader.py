"""File objects that stream a blob without holding it in memory."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

from . import trace
from .exceptions import InvalidDataFound, StoreNotAvailable


class RangeReader(io.RawIOBase):
    """Read bytes [start, end) of a blob by fetching one chunk at a time.

    `fetch(first, last)` returns bytes first..last inclusive, as HTTP ranges do.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        size: int,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = 8 * 1024 * 1024,
    ) -> None:
        self.size = size
        self._fetch = fetch
        self._position = max(size + start, 0) if start < 0 else start  # the last -start bytes
        self._end = size if end is None else min(end, size)
        self._chunk_size = chunk_size
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self._buffer and self._position < self._end:
            last = min(self._position + self._chunk_size, self._end) - 1
            self._buffer = memoryview(self._fetch(self._position, last))
            self._position = last + 1
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


class StreamReader(io.RawIOBase):
    """Adapt an object with `read(n)` and `close()` (an HTTP body) to a raw file.

    A read that fails with one of `errors` (the transport's: a body cut short, a connection
    reset) raises `StoreNotAvailable` naming `store`, the cause chained: an expected fault of
    a remote tier, not a bug."""

    def __init__(
        self,
        stream,
        size: int,
        on_close: Callable[[], None] | None = None,
        *,
        store: object = None,
        errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.size = size
        self._stream = stream
        self._on_close = on_close
        self._store = store
        self._errors = errors

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        try:
            data = self._stream.read(len(target))
        except self._errors as exc:
            raise StoreNotAvailable(self._store, f"reading the body: {exc}") from exc
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
            if self._on_close:
                self._on_close()
        super().close()


class WindowReader(io.RawIOBase):
    """Read `length` bytes of a stream after skipping its first `skip` bytes (read and
    dropped a chunk at a time): a range cut from a whole body, in constant memory."""

    def __init__(self, inner, skip: int, length: int) -> None:
        self.size = inner.size
        self._inner = inner
        self._skip = skip
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if self._skip:
            dropped = bytearray(min(self._skip, 1024 * 1024))
            while self._skip:
                count = self._inner.readinto(memoryview(dropped)[: self._skip])
                if not count:
                    break
                self._skip -= count
            self._skip = 0
        if self._left <= 0:
            return 0
        count = self._inner.readinto(memoryview(target)[: self._left])
        self._left -= count
        return count

    def close(self) -> None:
        self._inner.close()
        super().close()


class VerifyingReader(io.RawIOBase):
    """Pass a whole blob through, and raise `InvalidDataFound` at its end if the SHA1 differs."""

    def __init__(self, inner, sha1: str, store_name: str) -> None:
        self.size = inner.size
        self._inner = inner
        self._sha1 = sha1
        self._store_name = store_name
        self._hash = hashlib.sha1()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        count = self._inner.readinto(target)
        if count:
            self._hash.update(memoryview(target)[:count])
        elif not self._checked:
            self._checked = True
            actual = self._hash.hexdigest()
            if actual != self._sha1:
                raise InvalidDataFound(self._store_name, self._sha1, actual)
        return count

    def close(self) -> None:
        self._inner.close()
        super().close()


class TracedReader(io.RawIOBase):
    """Pass a stream through, counting the bytes read into its fetch's trace: a read error
    marks the attempt that served it, and `on_close(fetch)` runs once, at close."""

    def __init__(self, inner, fetch: trace.Fetch, on_close: Callable[[trace.Fetch], None]) -> None:
        self.size = inner.size
        self._inner = inner
        #: What happened: the attempts, the bytes read, the error of a read that failed.
        self.fetch = fetch
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        try:
            count = self._inner.readinto(target)
        except Exception as exc:
            self._failed(exc)
            raise
        self.fetch.bytes_read += count
        return count

    def _failed(self, exc: Exception) -> None:
        attempt = self.fetch.attempts[-1]
        invalid = isinstance(exc, InvalidDataFound)
        attempt.outcome = trace.INVALID if invalid else trace.UNAVAILABLE
        attempt.detail = f"while reading: {exc}"
        self.fetch.error = exc

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._inner.close()
        finally:
            super().close()
            self._on_close(self.fetch)
