"""A bitstore process driven line by line on stdin by test_postgres_down.py: it serves blobs
from a filesystem tier and writes its ledger to the database of DATABASE_URL.

Commands: `setup FOLDER` (create the tier), `get START END` (get blobs START..END-1 of the
folder, sorted, and check their bytes), `buffered` (records waiting in memory), `count`
(records in the database). Each answers one line.
"""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from django.conf import settings  # noqa: E402

from bitstore_app import services  # noqa: E402
from bitstore_app.conf import bitstore_settings  # noqa: E402
from bitstore_app.core import sha1_of  # noqa: E402
from bitstore_app.ledger import buffer  # noqa: E402
from bitstore_app.models import FetchRecord, Tier  # noqa: E402

settings.BITSTORE = {
    "CONFIG_CHECK_INTERVAL": 0.2,  # the configuration is re-read during the outage too
    "LEDGER_FLUSH_INTERVAL": 0.2,
    "LEDGER_FLUSH_COUNT": 50,
}
bitstore_settings.reload()
names: list[str] = []


def setup(folder: str) -> str:
    Tier.objects.create(name="disk", kind="filesystem", location=folder)
    names.extend(sorted(os.listdir(folder)))
    services.composite()
    return f"ok {len(names)}"


def get(start: str, end: str) -> str:
    started = time.perf_counter()
    wrong = 0
    for sha1 in names[int(start) : int(end)]:
        wrong += sha1_of(services.get(sha1)) != sha1
    return f"ok {int(end) - int(start) - wrong} {time.perf_counter() - started:.3f}"


def count() -> str:
    try:
        return f"ok {FetchRecord.objects.count()}"
    except Exception as exc:  # the database is down: say so, the test asks again
        from django.db import connection

        connection.close()
        return f"error {type(exc).__name__}"


COMMANDS = {"setup": setup, "get": get, "count": count, "buffered": lambda: f"ok {len(buffer)}"}

for line in sys.stdin:
    name, *args = line.split()
    print(COMMANDS[name](*args), flush=True)
