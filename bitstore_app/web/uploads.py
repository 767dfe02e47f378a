"""Uploads: `PUT /blobs/<sha1>` and `POST /blobs` (which answers the SHA1), streamed.

The body is read in chunks and written through the tiers' streaming writer: memory stays
bounded at any size, and the blob becomes visible only once its SHA1 checked out.
"""

from __future__ import annotations

import logging

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from .. import uploads
from ..conf import bitstore_settings
from ..core import BitstoreError, InvalidDataGiven, InvalidURI, parse_sha1
from . import access
from .responses import allow_methods, json_error
from .tokens import token_or_session

logger = logging.getLogger(__name__)

#: Bytes of the request body read at a time.
READ_CHUNK = 1024 * 1024


def put_blob(request: HttpRequest, sha1: str) -> HttpResponse:
    """Store the body as blob `sha1`: 201 when written, 200 when a tier held it already."""
    denial = access.permission_denial(request, access.ADD_BLOB)
    if denial is not None:
        return denial
    try:
        key = parse_sha1(sha1)
    except InvalidURI:
        return json_error(400, f"'{sha1}' is not a SHA1: expected 40 hexadecimal digits")
    return _store(request, key)


@token_or_session
@allow_methods("POST")
def post_blob(request: HttpRequest) -> HttpResponse:
    """Store the body as a blob and answer its SHA1: 201 when written, 200 when held already."""
    denial = access.permission_denial(request, access.ADD_BLOB)
    if denial is not None:
        return denial
    return _store(request, None)


def _store(request: HttpRequest, key: str | None) -> HttpResponse:
    if request.content_type.startswith("multipart/"):
        message = "send the file itself as the body (curl -T or --data-binary), not a form"
        return json_error(415, message)
    limit = bitstore_settings.UPLOAD_MAX_SIZE
    declared = request.META.get("CONTENT_LENGTH") or ""
    chunked = "HTTP_TRANSFER_ENCODING" in request.META and not declared.isdigit()
    if chunked and not isinstance(request, ASGIRequest):
        # A WSGI request's body is read up to its Content-Length: a chunked one reads empty.
        message = "send the body with a Content-Length (curl -T and --data-binary do)"
        return json_error(411, message)
    if limit and declared.isdigit() and int(declared) > limit:
        return _too_large(limit)
    try:
        stored = uploads.store(uploads.chunks_of(request, READ_CHUNK), key, limit)
    except uploads.TooLarge:
        return _too_large(limit)
    except InvalidDataGiven as exc:
        actual = exc._params[2] if len(exc._params) > 2 else "another"
        return json_error(400, f"the body's SHA1 is {actual}, not {key}: nothing was stored")
    except NotImplementedError:
        message = (
            "no enabled tier accepts uploads: tick 'accepts puts' on a durable source tier "
            "(a cache level that is bounded, or one of several, may evict them)"
        )
        return json_error(409, message)
    except (BitstoreError, OSError) as exc:
        logger.warning("upload of %s failed: %s", key or "a blob", exc)
        return json_error(503, "the blob could not be stored now: try again later")
    url = reverse("bitstore:blob", args=[stored.sha1])
    body = {"sha1": stored.sha1, "size": stored.size, "created": stored.created, "url": url}
    return JsonResponse(body, status=201 if stored.created else 200, headers={"Location": url})


def _too_large(limit: int) -> JsonResponse:
    return json_error(413, f"the blob is larger than UPLOAD_MAX_SIZE ({limit} bytes)")
