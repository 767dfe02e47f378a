"""Attribute the fetches a web request makes to its user, in the ledger."""

from __future__ import annotations

from .context import requested_by


class RequesterMiddleware:
    """Record `request.user` as the requester of every fetch made while serving a request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with requested_by(user_id=user_id):
            return self.get_response(request)
