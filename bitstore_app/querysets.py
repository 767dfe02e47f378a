"""Query helpers for tiers and the ledger."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from .core.outcomes import Outcome


class TierQuerySet(models.QuerySet):
    """Tiers; bulk writes bump the configuration version like single saves do."""

    def enabled(self) -> TierQuerySet:
        return self.filter(enabled=True).order_by("position", "id")

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        self._bump()
        return rows

    def bulk_update(self, objs, fields, batch_size=None):
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        self._bump()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._bump()
        return created

    def delete(self):
        result = super().delete()
        self._bump()
        return result

    def _bump(self) -> None:
        # Looked up in the app registry: models.py imports this module, not the other way.
        apps.get_model(self.model._meta.app_label, "ConfigVersion").bump()


class FetchRecordQuerySet(models.QuerySet):
    """Fetch ledger records."""

    def for_sha1(self, sha1: str) -> FetchRecordQuerySet:
        return self.filter(sha1=sha1.lower()).order_by("-created_at", "-id")

    def last_served(self, sha1: str):
        """Return the latest hit for `sha1`, or None."""
        return self.for_sha1(sha1).filter(outcome=Outcome.HIT).first()

    def since(self, moment) -> FetchRecordQuerySet:
        return self.filter(created_at__gte=moment)
