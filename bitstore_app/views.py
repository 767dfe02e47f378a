"""The HTTP endpoints: blobs (GET, HEAD, Range, ETag), warm jobs, and metrics."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse

from . import access, metrics, services, warming
from .core import BitstoreError, InvalidURI, NotFoundInStore, NotFoundWhileUnavailable, parse_sha1
from .http import (
    ANY,
    ETAG,
    BlobBody,
    ByteRange,
    allow_methods,
    attachment,
    if_none_match,
    json_error,
    requested_range,
)
from .models import WarmJob

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


def _not_modified(etag: str) -> HttpResponse:
    return HttpResponse(
        status=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL, "Accept-Ranges": "bytes"}
    )


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


@allow_methods("POST")
def warm(request: HttpRequest) -> HttpResponse:
    """Enqueue a warm job for the SHA1s in the body; answer 202 with its id and its URL.

    The body is a JSON list of SHA1s, or `{"hashes": [...], "chunk_size": n}`.
    """
    denial = access.permission_denial(request, access.WARM)
    if denial is not None:
        return denial
    try:
        hashes, chunk_size = _warm_request(request)
    except RequestDataTooBig:
        message = "the list is longer than DATA_UPLOAD_MAX_MEMORY_SIZE allows: send it in parts"
        return json_error(413, message)
    except ValueError as exc:
        return json_error(400, str(exc))
    try:
        job = warming.start_warm_job(hashes, chunk_size, created_by=request.user.pk)
    except warming.NoCacheTier as exc:
        return json_error(409, str(exc))
    url = reverse("bitstore:warm-job", args=[job.pk])
    state = {"id": job.pk, "url": url, "total": job.total, "malformed": job.malformed}
    return JsonResponse(state, status=202, headers={"Location": url})


def _warm_request(request: HttpRequest) -> tuple[list, int | None]:
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body must be JSON: a list of SHA1s") from None
    chunk_size = None
    if isinstance(payload, dict):
        payload, chunk_size = payload.get("hashes"), payload.get("chunk_size")
    if not isinstance(payload, list) or not payload:
        raise ValueError("send a non-empty JSON list of SHA1s (or an object with 'hashes')")
    if chunk_size is not None and (type(chunk_size) is not int or chunk_size < 1):
        raise ValueError("chunk_size must be a whole number of at least 1")
    return payload, chunk_size


@allow_methods("GET")
def warm_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """Report a warm job's progress and counts."""
    denial = access.permission_denial(request, access.WARM)
    if denial is not None:
        return denial
    job = WarmJob.objects.filter(pk=job_id).first()
    if job is None:
        return json_error(404, f"there is no warm job {job_id}")
    return JsonResponse(_job_state(job), headers={"Cache-Control": "no-store"})


#: SHA1s listed per kind of failure in a job's report; the counts are always complete.
LISTED_HASHES = 1000


def _job_state(job: WarmJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "progress": round(job.progress, 4),
        **{outcome: getattr(job, outcome) for outcome in WarmJob.OUTCOMES},
        "bytes": job.bytes,
        "chunks": job.chunks,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "failed_hashes": job.failed_hashes[:LISTED_HASHES],
        "invalid_hashes": job.invalid_hashes[:LISTED_HASHES],
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


@allow_methods("GET")
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve bitstore's metrics in Prometheus' text format, to allowed clients only."""
    denial = access.metrics_denial(request)
    if denial is not None:
        return denial
    content, content_type = metrics.exposition(request.headers.get("Accept", ""))
    return HttpResponse(content, content_type=content_type)
