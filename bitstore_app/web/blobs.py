"""The blob endpoint: GET and HEAD, one Range, ETags; streamed from the first tier."""

from __future__ import annotations

from typing import BinaryIO

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from .. import services
from ..core import BitstoreError, InvalidURI, NotFoundInStore, NotFoundWhileUnavailable, parse_sha1
from . import accel, access
from .bodies import BlobBody, attachment
from .ranges import ANY, ETAG, ByteRange, if_none_match, requested_range
from .responses import allow_methods, json_error

#: Blobs never change: clients may keep them for a year without asking again.
CACHE_CONTROL = "private, max-age=31536000, immutable"
#: Seconds a client is asked to wait before retrying when some tier could not be asked.
RETRY_AFTER = "30"


@allow_methods("GET", "HEAD")
def blob(request: HttpRequest, sha1: str) -> HttpResponse:
    """Serve a blob, or one range of it, streamed from the first tier that has it."""
    denial = access.blob_denial(request, sha1)
    if denial is not None:
        return denial
    try:
        key = parse_sha1(sha1)
    except InvalidURI:
        return json_error(400, f"'{sha1}' is not a SHA1: expected 40 hexadecimal digits")
    etag = f'"{key}"'
    held = if_none_match(request, etag)
    if held == ETAG:
        return _not_modified(etag)  # the client has these bytes: no tier needs asking
    if held is None and (handed := accel.accelerated(request, key, _headers(etag))):
        return handed  # the front server sends the file (and the range, if one was asked)
    wanted = requested_range(request, etag)
    try:
        stream, span = _open(key, wanted, headers_only=request.method == "HEAD" or held == ANY)
    except BitstoreError as exc:
        return _tier_error(key, exc)
    if held == ANY:
        stream.close()
        return _not_modified(etag)
    return _blob_response(request, key, stream, span, ranged=wanted is not None)


def _open(
    key: str, wanted: ByteRange | None, headers_only: bool
) -> tuple[BinaryIO, tuple[int, int] | None]:
    """Open what the response sends (nothing, for headers only); return the stream and the
    [start, end) it answers with, None when the range holds no byte of the blob."""
    if wanted is None:
        start, end = 0, None
    elif not wanted.is_suffix:
        start, end = wanted.first, None if wanted.last is None else wanted.last + 1
    else:  # a suffix: where it starts depends on the size
        start, end = (wanted.resolve(_size(key)) if wanted.last else None) or (0, 0)
    stream = services.open_recorded(key, start, start if headers_only else end)
    span = (0, stream.size) if wanted is None else wanted.resolve(stream.size)
    return stream, span


def _size(key: str) -> int:
    """Return the blob's size without reading it: a suffix range needs it to open."""
    try:
        stream = services.open(key, 0, 0)
    except BitstoreError:
        stream = services.open_recorded(key, 0, 0)  # fails the same way, and is recorded
    with stream:
        return stream.size


def _blob_response(
    request: HttpRequest, key: str, stream: BinaryIO, span: tuple[int, int] | None, ranged: bool
) -> HttpResponse:
    size = stream.size
    if span is None:
        stream.close()
        asked = request.headers["Range"][:100]
        message = f"the range '{asked}' holds no byte of the {size}-byte blob"
        return json_error(416, message, {"Content-Range": f"bytes */{size}"})
    start, end = span
    if request.method == "HEAD":
        stream.close()
        response = HttpResponse()
    else:
        response = StreamingHttpResponse(BlobBody(stream, end - start, key))
    response["Content-Length"] = str(end - start)
    response["Content-Type"] = "application/octet-stream"
    response["ETag"] = f'"{key}"'
    response["Cache-Control"] = CACHE_CONTROL
    response["Accept-Ranges"] = "bytes"
    if ranged:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if "download" in request.GET:
        response["Content-Disposition"] = attachment(request.GET["download"], key)
    return response


def _headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Accept-Ranges": "bytes"}


def _not_modified(etag: str) -> HttpResponse:
    return HttpResponse(status=304, headers=_headers(etag))


def _tier_error(key: str, exc: BitstoreError) -> HttpResponse:
    if isinstance(exc, NotFoundWhileUnavailable):
        count = len(exc.unavailable) or "some"
        message = (
            f"blob {key} was not found in the tiers that answered, and {count} tier(s) could "
            "not be asked: try again later"
        )
        return json_error(503, message, {"Retry-After": RETRY_AFTER})
    if isinstance(exc, NotFoundInStore):
        return json_error(404, f"no tier holds blob {key}")
    return json_error(503, f"blob {key} cannot be read now: try again later")
