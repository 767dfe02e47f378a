"""The shipped gunicorn configuration under a real gunicorn with three workers: `/metrics`
sums the counts of every worker, also of one that exited, and a worker that exits writes its
ledger records first."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bitstore_app.models import FetchRecord
from bitstore_app.signed_urls import signed_blob_url
from tests.app.conftest import REPO, live_db_url  # noqa: F401 - the test database
from tests.helpers import free_port, wait_for_port
from tests.web.conftest import FolderTier

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FETCHES = 60
DATA = b"one blob, fetched from every worker " * 100
#: The ledger is written only when a worker exits (no count or interval comes first).
NO_FLUSH = {"LEDGER_FLUSH_COUNT": 100_000, "LEDGER_FLUSH_INTERVAL": 3600}


class Gunicorn:
    """`gunicorn -c python:bitstore_app.gunicorn_config -w 3 project.wsgi`, as README says."""

    def __init__(self, database_url, folder, metrics_folder=None, options=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        self.log = folder / "gunicorn.log"
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("PROMETHEUS_", "prometheus_"))  # the config picks one
        }
        environment |= {
            "DJANGO_SETTINGS_MODULE": "tests.deployment.server_settings",
            "DATABASE_URL": database_url,
            "BITSTORE_TEST_CONFIG": json.dumps(NO_FLUSH),
        }
        if metrics_folder is not None:
            environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder)
        command = [
            *(sys.executable, "-m", "gunicorn", "-c", "python:bitstore_app.gunicorn_config"),
            *("--workers", "3", "--bind", f"127.0.0.1:{self.port}"),
            *("--access-logfile", str(self.access_log), "--access-logformat", "%(p)s %(U)s"),
            *options,
            "project.wsgi",
        ]
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT
            )
        wait_for_port("127.0.0.1", self.port, timeout=30)
        self.wait_for_workers(3)

    def wait_for_workers(self, count):
        """Scrape until `count` workers have answered: each has loaded the project."""
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(count * 2) as pool:
            while len(self.served("/bitstore/metrics")) < count:
                assert time.monotonic() < deadline, f"not {count} workers up in time"
                list(pool.map(lambda _: scrape(self.url), range(count * 2)))

    def served(self, path_prefix):
        """Return {worker pid: requests} of the requests whose path starts with the prefix."""
        if not self.access_log.exists():
            return Counter()
        lines = self.access_log.read_text().splitlines()
        pids = [
            pid for pid, path in (line.split() for line in lines) if path.startswith(path_prefix)
        ]
        return Counter(int(pid.strip("<>")) for pid in pids)

    def workers(self):
        """Return the pids of the master's live workers."""
        children = f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        with open(children) as listing:
            return {int(pid) for pid in listing.read().split()}

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: workers finish and exit
        self.process.wait(30)


@pytest.fixture
def gunicorn(live_db_url, tmp_path):  # noqa: F811
    server = Gunicorn(live_db_url, tmp_path)
    yield server
    server.stop()


def fetch_many(url, sha1, count):
    """GET the blob `count` times, a connection per request, six at a time: the three
    workers share them."""
    blob = f"{url}{signed_blob_url(sha1)}"

    def fetch(_):
        response = requests.get(blob, headers={"Connection": "close"}, timeout=30)
        assert response.status_code == 200 and response.content == DATA

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(fetch, range(count)))


def scrape(url):
    """Return {(name, sorted labels): value} of one scrape of `/metrics`."""
    response = requests.get(f"{url}/bitstore/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def assert_every_fetch_counted(url, count):
    # A fetch is counted when its response is closed, which a worker thread does after the
    # client has the last byte (and gunicorn has logged the request): wait for the last one.
    fetches = ("bitstore_fetches_total", (("outcome", "hit"),))
    wait_until(lambda: scrape(url).get(fetches) == count, 10, "not every fetch was counted")
    # Each scrape is answered by whichever worker accepts it: every one must give the sum.
    for _ in range(6):
        samples = scrape(url)
        assert samples[("bitstore_fetches_total", (("outcome", "hit"),))] == count
        assert samples[("bitstore_tier_hits_total", (("tier", "disk"),))] == count
        assert samples[("bitstore_tier_bytes_total", (("tier", "disk"),))] == count * len(DATA)
        assert samples[("bitstore_tier_latency_seconds_count", (("tier", "disk"),))] == count


def wait_until(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_metrics_sum_every_worker_and_exiting_workers_write_their_ledger(gunicorn, tmp_path):
    sha1 = FolderTier(tmp_path / "tier").add(DATA)
    fetch_many(gunicorn.url, sha1, FETCHES)

    # gunicorn logs a request once it has answered it: give it a moment for the last ones.
    wait_until(
        lambda: sum(gunicorn.served("/bitstore/blobs/").values()) == FETCHES, 10, "not logged"
    )
    served = gunicorn.served("/bitstore/blobs/")
    assert len(served) >= 2, f"one worker served every request: {served}"
    assert_every_fetch_counted(gunicorn.url, FETCHES)
    assert FetchRecord.objects.count() == 0  # still in the workers' buffers

    # A worker that exits (gunicorn starts another) writes its records; its counts stay.
    leaving, its_requests = served.most_common(1)[0]
    os.kill(leaving, signal.SIGTERM)
    wait_until(
        lambda: leaving not in gunicorn.workers() and len(gunicorn.workers()) == 3,
        30,
        "the worker did not exit and get replaced",
    )
    wait_until(
        lambda: FetchRecord.objects.count() >= its_requests, 10, "its records were not written"
    )
    assert FetchRecord.objects.count() == its_requests
    assert_every_fetch_counted(gunicorn.url, FETCHES)

    gunicorn.stop()
    assert gunicorn.process.returncode == 0, gunicorn.log.read_text()
    assert FetchRecord.objects.count() == FETCHES
    assert set(FetchRecord.objects.values_list("sha1", "outcome")) == {(sha1, "hit")}
    assert not re.search(r"Traceback|Exception during worker exit", gunicorn.log.read_text())


def test_a_metrics_folder_of_ones_own_starts_empty(live_db_url, tmp_path):  # noqa: F811
    folder = tmp_path / "metrics"
    folder.mkdir()
    # Counts an earlier run left there (a process that counted 5 hits, then died).
    leftover = (
        "from prometheus_client import Counter; "
        "Counter('bitstore_fetches', '', ['outcome']).labels('hit').inc(5)"
    )
    subprocess.run(
        [sys.executable, "-c", leftover],
        env=os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(folder)},
        check=True,
    )
    assert list(folder.glob("counter_*.db"))
    sha1 = FolderTier(tmp_path / "tier").add(DATA)
    server = Gunicorn(live_db_url, tmp_path, metrics_folder=folder)
    try:
        fetch_many(server.url, sha1, 12)
        assert_every_fetch_counted(server.url, 12)
        workers = {int(path.stem.rsplit("_", 1)[1]) for path in folder.glob("counter_*.db")}
        assert workers <= server.workers() and workers, "only this run's workers count there"
    finally:
        server.stop()


def test_a_stream_longer_than_the_worker_timeout_is_sent_whole(live_db_url, tmp_path):  # noqa: F811
    """A slow client reads a big blob for several times gunicorn's worker timeout: the worker
    that streams it is not taken for a hung one and killed mid-blob."""
    timeout = 2  # a worker's main loop tells the master it lives about every second
    big = os.urandom(32 * 1024 * 1024)  # far more than the loopback socket buffers hold
    sha1 = FolderTier(tmp_path / "tier").add(big)
    server = Gunicorn(live_db_url, tmp_path, options=("--timeout", str(timeout)))
    try:
        digest, received, reads = hashlib.sha1(), 0, 0
        with requests.get(f"{server.url}{signed_blob_url(sha1)}", stream=True, timeout=30) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(256 * 1024):
                digest.update(chunk)
                received += len(chunk)
                reads += 1
                time.sleep(0.05)  # the client's pace, not a wait for an event: 128 reads
        assert (received, digest.hexdigest()) == (len(big), sha1)
    finally:
        server.stop()
    assert "WORKER TIMEOUT" not in server.log.read_text()
