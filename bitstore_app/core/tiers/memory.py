"""A tier held in this process's memory: for tests, demos and small hot sets."""

from __future__ import annotations

from ..exceptions import NotFoundInStore
from ..per_process import ProcessLock
from ..store import Store
from ..writer import BlobWriter


class MemoryRaw(Store):
    """Blobs in a dict keyed by any non-empty string."""

    URI_HINT = "any non-empty key"
    LOCATION_HINT = "a key prefix such as blobs/ (or nothing)"

    def __init__(self, blobs: dict[str, bytes] | None = None) -> None:
        self.blobs: dict[str, bytes] = dict(blobs or {})
        self._lock = ProcessLock()

    def is_valid(self, uri: str) -> bool:
        return isinstance(uri, str) and bool(uri)

    def get(self, uri: str) -> bytes:
        self.check_uri(uri)
        try:
            return self.blobs[uri]
        except KeyError:
            raise NotFoundInStore(self, uri) from None

    def exists(self, uri: str) -> bool:
        self.check_uri(uri)
        return uri in self.blobs

    def put(self, uri: str, data: bytes) -> None:
        self.check_uri(uri)
        with self._lock:
            self.blobs[uri] = bytes(data)

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
