"""The warm endpoints: start a warm job, and report its progress."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from .. import warming
from ..models import WarmJob
from . import access
from .json_body import read_json
from .responses import allow_methods, json_error
from .tokens import token_or_session

MAX_CHUNK_SIZE = warming.MAX_CHUNK_SIZE
#: The largest job id the database holds (a BigAutoField).
MAX_JOB_ID = 2**63 - 1


@token_or_session  # a token, or a session with its CSRF check (after authentication)
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
    except warming.BrokerUnavailable as exc:
        return json_error(503, str(exc), {"Retry-After": "30"})
    url = reverse("bitstore:warm-job", args=[job.pk])
    state = {"id": job.pk, "url": url, "total": job.total, "malformed": job.malformed}
    return JsonResponse(state, status=202, headers={"Location": url})


def _warm_request(request: HttpRequest) -> tuple[list, int | None]:
    payload = read_json(request, "a list of SHA1s")
    chunk_size = None
    if isinstance(payload, dict):
        payload, chunk_size = payload.get("hashes"), payload.get("chunk_size")
    if not isinstance(payload, list) or not payload:
        raise ValueError("send a non-empty JSON list of SHA1s (or an object with 'hashes')")
    if chunk_size is not None and (
        type(chunk_size) is not int or not 1 <= chunk_size <= MAX_CHUNK_SIZE
    ):
        raise ValueError(f"chunk_size must be a whole number from 1 to {MAX_CHUNK_SIZE}")
    return payload, chunk_size


@token_or_session
@allow_methods("GET")
def warm_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """Report a warm job's progress and counts."""
    denial = access.permission_denial(request, access.WARM)
    if denial is not None:
        return denial
    number = int(job_id) if job_id.isascii() and job_id.isdigit() and len(job_id) < 20 else 0
    job = WarmJob.objects.filter(pk=number).first() if 0 < number <= MAX_JOB_ID else None
    if job is None:
        return json_error(404, f"there is no warm job {job_id[:40]}")
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
