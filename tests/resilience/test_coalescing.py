"""Request coalescing: concurrent gets of one SHA1 in a process cause one fetch at the source,
and every caller gets the same bytes (or the same error)."""

import threading
import time

import pytest

from bitstore_app.core import NotFoundWhileUnavailable
from bitstore_app.models import Tier
from tests.resilience.conftest import make_blob

THREADS = 64


@pytest.fixture
def tiers(service, settings, blob_server, tmp_path):
    """A filesystem cache and a slow HTTP API source written back into it."""
    settings.BITSTORE = {"LEDGER_BACKGROUND_FLUSH": False, "CONFIG_CHECK_INTERVAL": 3600}
    Tier.objects.create(name="cache", kind="filesystem", location=str(tmp_path), role="cache")
    Tier.objects.create(
        name="api", kind="http_api", location=blob_server.url, write_back=True, retries=0
    )
    blob_server.delay = 0.3  # long enough for every thread to arrive during the fetch
    service.composite()  # built here: the threads never read the database
    return service


def get_concurrently(service, sha1):
    """Call `service.get(sha1)` from THREADS threads at once; return (results, seconds)."""
    results = [None] * THREADS
    start = threading.Barrier(THREADS)

    def get(number):
        start.wait()
        try:
            results[number] = service.get(sha1)
        except Exception as exc:  # the test compares what each thread got
            results[number] = exc

    threads = [threading.Thread(target=get, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return results, time.perf_counter() - started


@pytest.mark.django_db
def test_64_threads_cause_one_fetch_at_the_source(tiers, blob_server, tmp_path, record_property):
    sha1, data = make_blob()
    blob_server.blobs[sha1] = data
    results, seconds = get_concurrently(tiers, sha1)
    record_property("seconds", round(seconds, 3))
    assert results == [data] * THREADS
    assert blob_server.requests[sha1] == 1
    assert (tmp_path / sha1).read_bytes() == data
    assert seconds < 3


@pytest.mark.django_db
def test_64_threads_share_one_failure(tiers, blob_server):
    sha1, _ = make_blob()
    blob_server.status = 503
    results, _ = get_concurrently(tiers, sha1)
    assert all(isinstance(result, NotFoundWhileUnavailable) for result in results)
    assert blob_server.requests[sha1] == 1
