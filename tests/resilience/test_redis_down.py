"""Redis (the Celery broker) stopped in the middle of a warm job: the worker reconnects when it
returns, the job resumes and completes, with every blob cached and none counted twice (the
chunks Redis lost or held back are sent again by the workers' stalled-job watch).

A Redis of the test's own on a free port (its queue survives the restart in an append-only
file), never the shared one; the workers, the source API and the S3 cache are the warming
tests' (tests/warming/conftest.py)."""

import time

import pytest

from bitstore_app.models import WarmChunk, WarmJob
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for the workers
from tests.warming.conftest import (  # noqa: F401 - fixtures
    api,
    cache_bucket,
    make_blobs,
    queue,
    send_warm,
    start_worker,
    tiers,
    wait_for_job,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)
BLOBS, CHUNK = 200, 10


@pytest.fixture
def broker_url(redis_server):
    """The workers' broker (and rate limits, and leases): this test's own Redis."""
    return redis_server.url


def test_a_warm_job_resumes_and_completes_when_redis_returns(
    request, redis_server, broker_url, record_property
):
    # The warming tests' fixtures, imported above, asked for by name.
    source, cached, start_worker_, send = map(
        request.getfixturevalue, ["api", "tiers", "start_worker", "send_warm"]
    )
    blobs = make_blobs(BLOBS, seed=7)
    source.blobs.update(blobs)
    source.delay = 0.02  # slow enough to stop Redis in the middle of the job
    # Redis may lose a message it was handing out when it stops, or hold unacknowledged ones
    # back for minutes behind its restore scan's lock: the stalled-job watch sends again
    # what has not come back 5 s after the job last counted.
    worker = start_worker_(broker_url, visibility_timeout=3, bitstore={"WARM_STALL_AFTER": 5})

    result = send(blobs, chunk_size=CHUNK)
    deadline = time.monotonic() + 30
    while sum(source.counts().values()) < BLOBS // 4:
        assert time.monotonic() < deadline, "the worker did not get going"
        time.sleep(0.01)
    redis_server.stop()  # SIGTERM: Redis saves its append-only file and exits
    job = WarmJob.objects.get(task_id=result.id)
    assert job.finished_at is None, "stopped too late to prove anything"
    time.sleep(2)
    redis_server.start()  # the same port and folder: the queue is back
    restarted = time.monotonic()

    job = wait_for_job(result.id, timeout=60)
    record_property("seconds_from_restart_to_done", round(time.monotonic() - restarted, 2))
    record_property("chunks_sent_again", job.chunks_resent)
    assert job.status == WarmJob.DONE
    assert job.total == job.warmed + job.already_cached == BLOBS
    assert job.failed == job.not_found == job.invalid == 0
    assert cached() == blobs, "every blob cached, each with its own bytes"
    indexes = sorted({index for index, _ in WarmChunk.objects.values_list("index", "attempt")})
    assert indexes == list(range(BLOBS // CHUNK)), "every chunk counted"
    log = worker.text()
    assert "Cannot connect to redis" in log, "the worker did lose its broker"
    assert log.count("Connected to redis") >= 2, "and connected again"
