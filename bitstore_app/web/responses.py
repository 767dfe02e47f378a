"""JSON responses of the endpoints: errors, and the methods a view allows."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware


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


class _JsonCsrfCheck(CsrfViewMiddleware):
    """Django's CSRF check, answering a failure with JSON that says what is missing."""

    def _reject(self, request: HttpRequest, reason: str) -> JsonResponse:
        return json_error(
            403,
            f"CSRF check failed: {reason}. A session client sends the csrftoken cookie's "
            "value in the X-CSRFToken header (and, over HTTPS, a Referer of this site).",
        )


def csrf_denial(request: HttpRequest) -> JsonResponse | None:
    """Return the JSON 403 of a failed CSRF check, or None; for views marked `csrf_exempt`
    that check it themselves, after authentication (an anonymous caller gets the 401)."""
    check = _JsonCsrfCheck(lambda request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})
