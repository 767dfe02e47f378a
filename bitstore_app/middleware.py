"""Attribute the fetches a web request makes to its user, in the ledger."""

from __future__ import annotations

from .requester import Requester, requested_lazily


class RequesterMiddleware:
    """Record `request.user` as the requester of every fetch made while serving a request.

    The user is looked up only when the request fetches a blob: other requests pay nothing.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with requested_lazily(lambda: Requester(user_id=_user_id(request))):
            return self.get_response(request)


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None
