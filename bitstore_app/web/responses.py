"""JSON responses of the endpoints: errors, and the methods a view allows."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse


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
