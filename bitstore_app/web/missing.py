"""The batch existence endpoint: which of these SHA1s does no tier hold?"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import services
from ..core import InvalidURI, StoreNotAvailable
from . import access
from .json_body import read_json
from .responses import allow_methods, json_error
from .tokens import token_or_session

#: The most SHA1s one request may ask about (REAPI servers cap FindMissingBlobs alike).
MAX_HASHES = 10_000
#: Seconds a client is asked to wait when a tier could not be asked.
RETRY_AFTER = "30"


@token_or_session  # a read token, or a session with its CSRF check (after authentication)
@allow_methods("POST")
def missing(request: HttpRequest) -> HttpResponse:
    """Answer `{"missing": [...]}`: the SHA1s of the body that no tier holds.

    The body is a JSON list of SHA1s, or `{"hashes": [...], "include_paid": true}` to ask the
    write-back (paid) sources as well.
    """
    denial = access.permission_denial(request, access.VIEW_BLOB)
    if denial is not None:
        return denial
    try:
        hashes, include_paid = _missing_request(request)
        found = services.missing(hashes, include_paid=include_paid)
    except RequestDataTooBig:
        return json_error(413, f"send at most {MAX_HASHES:,} SHA1s a request")
    except InvalidURI as exc:
        return json_error(400, f"'{exc.uri[:100]}' is not a SHA1: expected 40 hexadecimal digits")
    except ValueError as exc:
        return json_error(400, str(exc))
    except StoreNotAvailable as exc:
        return json_error(503, str(exc), {"Retry-After": RETRY_AFTER})
    return JsonResponse({"missing": found}, headers={"Cache-Control": "no-store"})


def _missing_request(request: HttpRequest) -> tuple[list, bool]:
    payload = read_json(request, "a list of SHA1s")
    include_paid = False
    if isinstance(payload, dict):
        payload, include_paid = payload.get("hashes"), payload.get("include_paid", False)
    if not isinstance(payload, list):
        raise ValueError("send a JSON list of SHA1s (or an object with 'hashes')")
    if len(payload) > MAX_HASHES:
        raise ValueError(f"{len(payload):,} SHA1s: send at most {MAX_HASHES:,} a request")
    if not isinstance(include_paid, bool):
        raise ValueError("include_paid must be true or false")
    if not all(isinstance(entry, str) for entry in payload):
        raise ValueError("every entry must be a SHA1 string")
    return payload, include_paid
