"""Who may fetch blobs, enqueue warm jobs and read the metrics; closed by default."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare

from ..conf import bitstore_settings
from .responses import json_error
from .signed_urls import signature_problem
from .tokens import scope_denial

VIEW_BLOB = "bitstore_app.view_blob"
WARM = "bitstore_app.warm"
ADD_BLOB = "bitstore_app.add_blob"


def permission_denial(request: HttpRequest, permission: str) -> JsonResponse | None:
    """Return 401 for an anonymous request, 403 for a user without `permission` (or a token
    without its scope), else None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return json_error(
            401,
            "authentication required: send Authorization: Bearer <token>, log in, or use a "
            "signed URL for a single blob",
            {"WWW-Authenticate": 'Bearer realm="bitstore"'},
        )
    if not user.has_perm(permission):
        return json_error(403, f"you do not have the {permission} permission")
    return scope_denial(request, permission)


def blob_denial(request: HttpRequest, sha1: str) -> JsonResponse | None:
    """Return None when the request may read the blob (a user with `view_blob`, or a valid
    signed URL for this SHA1), else the 401 or 403 answer."""
    denial = permission_denial(request, VIEW_BLOB)
    if denial is None or "signature" not in request.GET:
        return denial
    problem = signature_problem(sha1, request.GET)
    return None if problem is None else json_error(403, problem)


def metrics_denial(request: HttpRequest) -> JsonResponse | None:
    """Return None for a request with the metrics token or from an allowed address."""
    token = bitstore_settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and constant_time_compare(sent, f"Bearer {token}"):
        return None
    if _address_allowed(request.META.get("REMOTE_ADDR", "")):
        return None
    if token:
        return json_error(
            401, "send Authorization: Bearer <METRICS_TOKEN>", {"WWW-Authenticate": "Bearer"}
        )
    return json_error(403, "metrics are served only to the addresses in METRICS_ALLOWED_IPS")


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    allowed = bitstore_settings.METRICS_ALLOWED_IPS
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allowed)
