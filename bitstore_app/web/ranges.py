"""The Range and conditional (If-Range, If-None-Match) headers of the blob endpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.http import parse_etags

_SINGLE_RANGE = re.compile(r"([0-9]*)-([0-9]*)")


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
