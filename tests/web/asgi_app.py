"""The project's ASGI application, with `BITSTORE_TEST_CONFIG` (JSON) as its BITSTORE setting:
what the tests serve with uvicorn."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from django.conf import settings  # noqa: E402 - after setup, as a server process does

settings.BITSTORE = json.loads(os.environ.get("BITSTORE_TEST_CONFIG") or "{}")

from project.asgi import application  # noqa: E402

__all__ = ["application"]
