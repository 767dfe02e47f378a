"""API tokens for programs: `Authorization: Bearer <token>`, limited to the token's scopes.

A token request needs no CSRF token (no browser sends that header by itself); a session
request still does. Each token request looks the token up in the database, so a revoked
or expired token is refused from the next request on.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..models import ApiToken
from .responses import csrf_denial, json_error

#: Every token starts with this, so that a leaked one is easy to recognise (and to scan for).
TOKEN_PREFIX = "bst_"
#: Characters of the token kept in clear, to tell tokens apart in lists.
SHOWN_CHARACTERS = 12
#: Which scope a token needs for each permission of the endpoints.
SCOPE_OF_PERMISSION = {
    "bitstore_app.view_blob": ApiToken.READ,
    "bitstore_app.warm": ApiToken.WARM,
    "bitstore_app.add_blob": ApiToken.UPLOAD,
}


def digest(token: str) -> str:
    """Return what is stored of a token: its SHA-256 (tokens are random, so no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    user, name: str, scopes: Iterable[str], expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user`; return the row and the token, which is never kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user=user,
        name=name,
        prefix=token[:SHOWN_CHARACTERS],
        digest=digest(token),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    row.full_clean(exclude=["user"])
    row.save()
    return row, token


def _bearer(request: HttpRequest) -> str | None:
    """Return the token of an `Authorization: Bearer` header, "" for a malformed one."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _refused(message: str) -> JsonResponse:
    challenge = f'Bearer realm="bitstore", error="invalid_token", error_description="{message}"'
    return json_error(401, message, {"WWW-Authenticate": challenge})


def _authenticate(request: HttpRequest, token: str) -> JsonResponse | None:
    """Make the token's user the request's user, or return the 401 answer."""
    if not token:
        return _refused("send Authorization: Bearer <token>")
    row = ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
    if row is None:
        return _refused("this token is not known")
    if row.revoked_at is not None:
        return _refused("this token was revoked")
    if row.expires_at is not None and row.expires_at <= timezone.now():
        return _refused("this token has expired")
    if not row.user.is_active:
        return _refused("this token's user is inactive")
    request.user = row.user
    request.bitstore_token = row
    return None


def token_or_session(view: Callable) -> Callable:
    """Authenticate a view's requests by token, else by session with Django's CSRF check."""

    @csrf_exempt
    @wraps(view)
    def authenticated(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = _bearer(request)
        if token is not None:
            refusal = _authenticate(request, token)
            if refusal is not None:
                return refusal
        else:
            # A session: the CSRF check comes after authentication, so that an anonymous
            # caller gets the view's 401 rather than a CSRF 403.
            user = getattr(request, "user", None)  # None without the auth middleware
            refusal = csrf_denial(request) if user is not None and user.is_authenticated else None
            if refusal is not None:
                return refusal
        return view(request, *args, **kwargs)

    return authenticated


def scope_denial(request: HttpRequest, permission: str) -> JsonResponse | None:
    """Return the 403 answer when the request's token lacks the scope of `permission`."""
    row = getattr(request, "bitstore_token", None)
    scope = SCOPE_OF_PERMISSION.get(permission)
    if row is None or scope is None or scope in row.scopes:
        return None
    return json_error(403, f"this token lacks the '{scope}' scope")
