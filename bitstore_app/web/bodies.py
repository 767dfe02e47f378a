"""The blob endpoint's response body, and how it is named for download."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

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

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks()
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
        self.stream.close()
