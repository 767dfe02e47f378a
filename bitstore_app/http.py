"""HTTP details of the blob endpoint: JSON errors, Range and conditional headers, the body."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import BinaryIO

from django.http import HttpRequest, JsonResponse
from django.utils.http import content_disposition_header, parse_etags

logger = logging.getLogger(__name__)

#: Bytes read from a tier and handed to the server at a time.
CHUNK_SIZE = 1024 * 1024
_SINGLE_RANGE = re.compile(r"([0-9]*)-([0-9]*)")


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    """Return `{"error": message}` with the status; errors are never cached."""
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return JsonResponse({"error": message}, status=status, headers=headers)


def allow_methods(*methods: str) -> Callable:
    """Answer other methods with a JSON 405 that lists the allowed ones."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                message = f"{request.method} is not allowed here; use {' or '.join(methods)}"
                return json_error(405, message, {"Allow": ", ".join(methods)})
            return view(request, *args, **kwargs)

        return checked

    return decorator


@dataclass(frozen=True)
class ByteRange:
    """One range of a Range header: bytes `first` to `last` inclusive (`last` None: to the
    end), or, with `first` None, the last `last` bytes (a suffix range)."""

    first: int | None
    last: int | None

    @property
    def is_suffix(self) -> bool:
        return self.first is None

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Return the range as [start, end) in a blob of `size` bytes; None when it holds no
        byte of the blob (the answer is then 416)."""
        if self.first is None:
            return (max(size - self.last, 0), size) if self.last and size else None
        if self.first >= size:
            return None
        return self.first, size if self.last is None else min(self.last + 1, size)


#: What a malformed `bytes` range is taken as: a range that no blob can satisfy.
UNSATISFIABLE = ByteRange(None, 0)


def requested_range(request: HttpRequest, etag: str) -> ByteRange | None:
    """Return the one byte range the request asks for, or None to send the whole blob: no
    Range header, another unit, several ranges (a whole 200 answer is allowed by RFC 9110),
    or an If-Range that names another representation."""
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if not header or (if_range is not None and if_range.strip() != etag):
        return None
    unit, equals, ranges = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if not equals:
        return UNSATISFIABLE
    if "," in ranges:
        return None
    match = _SINGLE_RANGE.fullmatch(ranges.strip())
    if match is None or match.groups() == ("", ""):
        return UNSATISFIABLE
    first, last = (_number(value) if value else None for value in match.groups())
    if first is not None and last is not None and last < first:
        return UNSATISFIABLE
    return ByteRange(first, last)


def _number(digits: str) -> int:
    # Past 19 digits, any number is beyond every blob (and int() refuses past 4300 digits).
    return int(digits) if len(digits) <= 19 else 10**19


#: What If-None-Match says: the client holds this blob (ETAG), or asks for any (ANY).
ETAG, ANY = "etag", "any"


def if_none_match(request: HttpRequest, etag: str) -> str | None:
    """Compare If-None-Match with the blob's ETag, weakly (a `W/` prefix matches too)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return ANY
    return ETAG if any(tag.removeprefix("W/") == etag for tag in tags) else None


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
