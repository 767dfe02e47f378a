"""The blob endpoint's response body, and how it is named for download."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)

#: Bytes read from a tier and handed to the server at a time.
CHUNK_SIZE = 1024 * 1024


def attachment(name: str, fallback: str) -> str:
    """Return a Content-Disposition header for downloading as `name` (quoted per RFC 6266 and
    5987), keeping only its last path segment and no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return content_disposition_header(True, name if name not in ("", ".", "..") else fallback)


class BlobBody:
    """A response body: `length` bytes of a stream in chunks of `CHUNK_SIZE`.

    Each chunk is handed over only after the next read succeeded, and a last read lets a
    verifying stream check the SHA1: a blob that fails the check, or that ends early, is cut
    short (the client sees fewer bytes than Content-Length), never completed. The stream is
    closed with the response.
    """

    def __init__(self, stream: BinaryIO, length: int, sha1: str) -> None:
        self.stream = stream
        self.length = length
        self.sha1 = sha1
        #: Bytes the server took: a chunk counts once the server asks for the next one (a
        #: client that hung up fails the write, and the server stops asking).
        self.sent = 0
        self._chunk_iterator = self._chunks()
        self._first: bytes | None = None

    def start(self) -> None:
        """Read the first chunk now, before the status is sent: a tier that fails at once (or
        a blob of one chunk that fails its check) is answered with an error, not a cut body."""
        self._first = next(self._chunk_iterator, b"")

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._first:
                first, self._first = self._first, None
                yield first
                self.sent += len(first)
            for chunk in self._chunk_iterator:
                yield chunk
                self.sent += len(chunk)
        except Exception as exc:
            logger.warning("blob %s: sending stopped: %s", self.sha1, exc)
            raise

    def _chunks(self) -> Iterator[bytes]:
        remaining, pending = self.length, b""
        while remaining:
            chunk = self.stream.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise OSError(f"the tier's stream ended {remaining} bytes early")
            remaining -= len(chunk)
            if pending:
                yield pending
            pending = chunk
        self.stream.read(1)  # at the end: a verifying stream raises here on a SHA1 mismatch
        if pending:
            yield pending

    def close(self) -> None:
        fetch = getattr(self.stream, "fetch", None)  # a recorded stream: record what was sent
        if fetch is not None:
            fetch.bytes_sent = self.sent
        self.stream.close()


_END = object()


class AsyncBlobBody:
    """A `BlobBody` for ASGI servers: each chunk is read in a worker thread, so a slow tier
    never blocks the event loop (it has no `__iter__`, so Django need not adapt it)."""

    def __init__(self, body: BlobBody) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = iter(self.body)
        step = sync_to_async(next, thread_sensitive=False)
        while (chunk := await step(chunks, _END)) is not _END:
            yield chunk

    def close(self) -> None:
        self.body.close()


def blob_body(request: HttpRequest, body: BlobBody) -> BlobBody | AsyncBlobBody:
    """Return the body that suits the server: async under ASGI, plain under WSGI."""
    return AsyncBlobBody(body) if isinstance(request, ASGIRequest) else body
