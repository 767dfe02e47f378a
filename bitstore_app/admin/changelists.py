"""Change lists shared by the admin pages."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


class BoundedDateChangeList(ChangeList):
    """A change list whose date filter refuses a year past what dates hold (Django turns a
    ValueError into its "invalid lookup" redirect, but lets an OverflowError through)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc
