"""After a warm job on a real worker fills the cache, a web process that missed the blob in
the cache a moment before (and fetched it from the API) serves it from the cache next."""

import pytest

from bitstore_app.models import FetchRecord
from bitstore_app.signed_urls import signed_blob_url
from tests.warming.conftest import make_blobs, wait_for_job
from tests.web.web_server import WebServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_web_process_serves_from_the_cache_after_a_warm_job(
    api, tiers, broker_url, start_worker, send_warm, live_db_url, tmp_path
):
    [(sha1, data)] = make_blobs(1, seed=7).items()
    api.blobs[sha1] = data
    web = WebServer("runserver", live_db_url, tmp_path / "web.log")
    try:
        first = web.get(signed_blob_url(sha1))
        assert (first.status_code, first.content) == (200, data)
        assert api.counts()[sha1] == 1  # the API is not written back: the cache is still empty
        assert tiers() == {}

        start_worker(broker_url)
        job = wait_for_job(send_warm([sha1]).id)
        assert job.warmed == 1 and tiers() == {sha1: data}
        assert api.counts()[sha1] == 2

        second = web.get(signed_blob_url(sha1))
        assert (second.status_code, second.content) == (200, data)
        assert api.counts()[sha1] == 2, web.text()[-3000:]  # served by the cache
        served = FetchRecord.objects.filter(sha1=sha1, task_id="").order_by("id")
        wait_until(lambda: served.count() == 2, message="the web fetches were not recorded")
        assert [record.tier_name for record in served] == ["api", "cache"]
    finally:
        web.stop()
