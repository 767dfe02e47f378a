"""The scrub as a Celery task, run by a real worker (what celery beat would schedule)."""

import hashlib
import time

import pytest
from kombu import Connection

from bitstore_app.models import Tier
from bitstore_app.tasks import scrub_cache

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_scrubs_the_cache_folder(tmp_path, start_worker, broker_url, queue):
    folder = tmp_path / "cache"
    folder.mkdir()
    Tier.objects.create(name="cache", kind="filesystem", location=str(folder), role=Tier.CACHE)
    good = hashlib.sha1(b"good").hexdigest()
    (folder / good).write_bytes(b"good")
    (folder / hashlib.sha1(b"original").hexdigest()).write_bytes(b"rotten")
    worker = start_worker(broker_url)
    with Connection(broker_url) as connection:
        scrub_cache.apply_async(connection=connection, queue=queue)
    deadline = time.monotonic() + 30
    while worker.succeeded("scrub_cache") == 0:
        assert time.monotonic() < deadline, f"the scrub task did not run:\n{worker.text()}"
        time.sleep(0.1)
    blobs = [path.name for path in folder.iterdir() if not path.name.startswith(".bitstore-")]
    assert blobs == [good]
