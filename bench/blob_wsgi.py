"""The project's WSGI application with `BITSTORE` taken from `BITSTORE_BENCH_CONFIG` (JSON):
what the blob-URL case's gunicorn serves."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

application = get_wsgi_application()
override_settings(BITSTORE=json.loads(os.environ.get("BITSTORE_BENCH_CONFIG", "{}"))).enable()
