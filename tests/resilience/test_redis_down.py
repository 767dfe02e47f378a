"""Redis (the Celery broker) stopped in the middle of a warm job: the worker reconnects when it
returns, the job resumes and completes, with every blob cached and none counted twice (the
chunks Redis lost or held back are sent again by the workers' stalled-job watch).

A Redis of the test's own on a free port (its queue survives the restart in an append-only
file), never the shared one; the workers, the source API and the S3 cache are the warming
tests' (tests/warming/conftest.py)."""

import re
import time

import pytest
from celery.signals import worker_init
from kombu import Connection, Exchange, Queue
from kombu.transport.redis import Channel as RedisChannel

from bitstore_app import tasks
from bitstore_app.models import WarmChunk, WarmJob, WarmJobHashes
from bitstore_app.warming import create_job
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


def test_a_stalled_job_s_resend_refused_while_redis_is_down_is_sent_when_it_returns(
    request, redis_server, broker_url
):
    """The watch of a real worker finds a stalled job while Redis is down: the broker refuses
    the chunks, the worker logs one line and lets the job go, so its next look (not one a
    whole WARM_STALL_AFTER later) tries again; once Redis is back the chunks go out."""
    source, cached, start_worker_ = map(request.getfixturevalue, ["api", "tiers", "start_worker"])
    blobs = make_blobs(3 * CHUNK, seed=8)
    source.blobs.update(blobs)
    stall = 8.0  # the watch looks every 2 s
    worker = start_worker_(broker_url, bitstore={"WARM_STALL_AFTER": stall})
    redis_server.stop()
    # A job made as start_warm_job makes it whose chunk messages were all lost.
    job, _ = create_job(blobs, chunk_size=CHUNK)
    WarmJobHashes.objects.create(job=job, hashes=list(blobs))
    WarmJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))

    def refusals():  # Celery's copy of each log line (Django's handler writes one too)
        return re.findall(r"(?m)^\[.*warming: cannot send a stalled job's chunks", worker.text())

    deadline = time.monotonic() + 30
    while not refusals():
        assert time.monotonic() < deadline, worker.text()[-2000:]
        time.sleep(0.1)
    first = time.monotonic()
    while len(refusals()) < 2:
        assert time.monotonic() - first < stall - 1, "claimed again only after a stall period"
        time.sleep(0.1)
    assert WarmJob.objects.get(pk=job.pk).chunks_resent == 0, "nothing was sent"

    redis_server.start()
    done = wait_for_job(pk=job.pk)
    assert (done.status, done.warmed, cached()) == (WarmJob.DONE, len(blobs), blobs)
    assert done.chunks_resent >= 3


def consuming_with_a_fanout_queue(url, payload):
    """Return a kombu connection set up as a worker's is on Redis: a task message delivered
    and not acknowledged, a BRPOP waiting for the next, and the remote control's fanout
    queue on a channel of its own."""
    connection = Connection(url, transport_options={"visibility_timeout": 1})
    channel = connection.default_channel
    tasks_queue = Queue("tasks", Exchange("tasks", "direct"), "tasks")
    producer = connection.Producer(channel)
    producer.publish(payload, exchange="tasks", routing_key="tasks", declare=[tasks_queue])
    delivered = []
    consumer = connection.Consumer(tasks_queue, channel=channel)
    consumer.register_callback(lambda body, message: delivered.append(body))
    consumer.consume()
    connection.drain_events(timeout=5)
    assert delivered == [payload], "delivered, not acknowledged"
    control = Queue("pidbox", Exchange("pidbox", "fanout"), auto_delete=True)
    connection.Consumer(control, channel=connection.channel(), no_ack=True).consume()
    channel._brpop_start()  # what the worker's loop does while it waits
    return connection


def test_a_connection_lost_while_waiting_with_a_message_unacked_closes_without_a_crash(
    redis_server, monkeypatch
):
    """What Celery's consumer does when Redis goes away (collect, then close the connection)
    ended in an AttributeError when the worker was waiting on a BRPOP, and the worker stopped
    ("Unrecoverable error"; seen in CI). The mend the workers apply at start turns it into a
    connection error, which the close ignores. The unacknowledged messages come back from
    Redis once their visibility timeout has passed."""
    assert any(key[0] == "bitstore_redis_broker_mend" for key, _ in worker_init.receivers)
    tasks.mend_the_redis_transport()
    for mended in (False, True):
        if not mended:  # kombu as it is, to show the fault is real
            original = RedisChannel._connparams.__wrapped__
            monkeypatch.setattr(RedisChannel, "_connparams", original)
        connection = consuming_with_a_fanout_queue(redis_server.url, {"mended": mended})
        redis_server.stop()
        connection.collect(socket_timeout=1)
        if mended:
            connection.close()
        else:
            with pytest.raises(AttributeError):
                connection.close()
            monkeypatch.undo()
        redis_server.start()
    time.sleep(1.1)  # the visibility timeout
    with Connection(redis_server.url, transport_options={"visibility_timeout": 1}) as again:
        again.default_channel.qos.restore_visible()
        queue = again.SimpleQueue("tasks")
        payloads = [queue.get(timeout=5).payload for _ in range(2)]
        assert sorted(payloads, key=str) == [{"mended": False}, {"mended": True}]
