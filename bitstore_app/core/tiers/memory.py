"""A tier held in this process's memory: for tests, demos and small hot sets."""

from __future__ import annotations

import threading

from ..exceptions import NotFoundInStore
from ..store import Store
from ..writer import BlobWriter


class MemoryRaw(Store):
    """Blobs in a dict keyed by any non-empty string."""

    URI_HINT = "any non-empty key"

    def __init__(self, blobs: dict[str, bytes] | None = None) -> None:
        self.blobs: dict[str, bytes] = dict(blobs or {})
        self._lock = threading.Lock()

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

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


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
