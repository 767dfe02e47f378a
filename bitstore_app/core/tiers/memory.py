"""A tier held in this process's memory: for tests, demos and small hot sets."""

from __future__ import annotations

from collections import OrderedDict

from ..exceptions import NotFoundInStore, StoreNotAvailable
from ..per_process import ProcessLock
from ..store import Store
from ..usage import Usage
from ..writer import BlobWriter


class MemoryRaw(Store):
    """Blobs in a dict keyed by any non-empty string.

    With `max_bytes`, a bounded cache: past that many bytes, the least recently read or
    written blobs are dropped until it holds at most `low_watermark` times as much. The
    caller of a `get` holds its own reference to the bytes, so dropping never breaks it.
    """

    URI_HINT = "any non-empty key"
    LOCATION_HINT = "a key prefix such as blobs/ (or nothing)"

    def __init__(
        self,
        blobs: dict[str, bytes] | None = None,
        *,
        max_bytes: int | None = None,
        low_watermark: float = 0.9,
    ) -> None:
        if max_bytes is not None and (isinstance(max_bytes, bool) or max_bytes < 1):
            raise ValueError(f"max_bytes must be a positive number of bytes, not {max_bytes!r}")
        if not 0 < low_watermark <= 1:
            raise ValueError(f"low_watermark must be above 0 and at most 1, not {low_watermark}")
        self.blobs: dict[str, bytes] = OrderedDict(blobs or {})
        self.max_bytes = max_bytes
        self.low_bytes = int(max_bytes * low_watermark) if max_bytes is not None else None
        self.held = sum(len(data) for data in self.blobs.values())
        self.evictions = 0
        self._lock = ProcessLock()

    def bounded(self) -> bool:
        return self.max_bytes is not None

    def usage(self) -> Usage | None:
        if self.max_bytes is None:
            return Usage(self.held, len(self.blobs))
        return Usage(self.held, len(self.blobs), self.evictions, self.max_bytes)

    def is_valid(self, uri: str) -> bool:
        return isinstance(uri, str) and bool(uri)

    def get(self, uri: str) -> bytes:
        self.check_uri(uri)
        try:
            data = self.blobs[uri]
        except KeyError:
            raise NotFoundInStore(self, uri) from None
        if self.max_bytes is not None:
            self._used(uri)
        return data

    def _used(self, uri: str) -> None:
        with self._lock:
            if uri in self.blobs:
                self.blobs.move_to_end(uri)

    def exists(self, uri: str) -> bool:
        self.check_uri(uri)
        return uri in self.blobs

    def put(self, uri: str, data: bytes) -> None:
        self.check_uri(uri)
        data = bytes(data)
        if self.max_bytes is not None and len(data) > self.max_bytes:
            raise StoreNotAvailable(
                self, f"a blob of {len(data)} bytes is larger than max_bytes ({self.max_bytes})"
            )
        with self._lock:
            old = self.blobs.pop(uri, None)
            self.held += len(data) - (len(old) if old is not None else 0)
            self.blobs[uri] = data
            if self.max_bytes is not None and self.held > self.max_bytes:
                self._evict()

    def _evict(self) -> None:
        """Drop the least recently used blobs down to the low watermark (under the lock)."""
        while self.held > self.low_bytes and len(self.blobs) > 1:
            _, data = self.blobs.popitem(last=False)
            self.held -= len(data)
            self.evictions += 1

    def delete(self, uri: str) -> None:
        self.check_uri(uri)
        with self._lock:
            old = self.blobs.pop(uri, None)
            if old is not None:
                self.held -= len(old)

    def open_writer(self, uri: str) -> BlobWriter:
        self.check_uri(uri)
        return _MemoryWriter(lambda data: self.put(uri, data))


class _MemoryWriter(BlobWriter):
    """Chunks kept in a list and joined on commit (the blob lives in memory anyway)."""

    def __init__(self, put) -> None:
        self._put = put
        self._chunks: list[bytes] = []

    def _write(self, chunk: bytes) -> None:
        self._chunks.append(bytes(chunk))

    def _commit(self) -> None:
        self._put(b"".join(self._chunks))

    def _abort(self) -> None:
        self._chunks = []
