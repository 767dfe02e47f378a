"""A configured Django for the cases that go through the app: the project's settings with an
SQLite database of the benchmark's own, in a temporary folder, and tiers made through the ORM."""

from __future__ import annotations

import os
from pathlib import Path

from .data import FIRST, SECOND, THIRD

#: The broker of the warming case: Redis database 9 is the benchmark's own.
BROKER = "redis://127.0.0.1:6379/9"
#: The layout of `bench.layouts`, as tier rows: (name, kind, location).
TIERS = [("first-s3", "s3", FIRST), ("second-gcs", "gs", SECOND), ("third-s3", "s3", THIRD)]


def database_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'bench.sqlite3'}"


def setup(folder: Path) -> None:
    """Configure Django on a fresh database in `folder` (once per process) and migrate it."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    os.environ["DATABASE_URL"] = database_url(folder)
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_tiers(tiers: list[dict]) -> None:
    """Replace every tier row with `tiers` (keyword arguments of `Tier`), in order."""
    from bitstore_app import services
    from bitstore_app.models import Tier

    Tier.objects.all().delete()
    for position, values in enumerate(tiers):
        Tier.objects.create(position=position, **values)
    services.configuration.invalidate()


def layout_tiers() -> list[dict]:
    return [{"name": n, "kind": k, "location": loc} for n, k, loc in TIERS]
