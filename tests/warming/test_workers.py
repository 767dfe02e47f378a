"""Warm jobs on real Celery workers (subprocesses) with Redis as the broker: a blob API on
loopback as the source, moto's S3 server as the cache tier."""

import hashlib
import time
from collections import Counter

import pytest

from bitstore_app.models import FetchRecord, WarmChunk, WarmJob
from tests.warming.conftest import make_blobs, wait_for_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_job_fills_the_cache_fetching_each_blob_once_and_again_fetches_nothing(
    api, tiers, broker_url, start_worker, send_warm
):
    blobs = make_blobs(300, seed=1)
    api.blobs.update(blobs)
    start_worker(broker_url)

    started = time.monotonic()
    result = send_warm(blobs, chunk_size=25)
    job = wait_for_job(result.id)
    elapsed = time.monotonic() - started

    assert job.status == WarmJob.DONE
    assert (job.total, job.warmed, job.already_cached, job.chunks) == (300, 300, 0, 12)
    assert job.bytes == sum(len(data) for data in blobs.values())
    assert tiers() == blobs
    assert api.counts() == Counter(dict.fromkeys(blobs, 1))
    # Every fetch is in the ledger, attributed to the chunk task that made it.
    records = FetchRecord.objects.all()
    assert Counter(records.values_list("sha1", flat=True)) == Counter(dict.fromkeys(blobs, 1))
    assert set(records.values_list("outcome", "cache_written")) == {("hit", True)}
    assert "" not in set(records.values_list("task_id", flat=True))
    run = (job.finished_at - job.started_at).total_seconds()
    print(
        f"\n300 blobs warmed in {run:.2f} s by the worker ({300 / run:.0f} blobs/s), "
        f"{elapsed:.2f} s from delay() to the job's end"
    )

    again = wait_for_job(send_warm(blobs, chunk_size=25).id)

    assert (again.already_cached, again.warmed, again.status) == (300, 0, WarmJob.DONE)
    assert sum(api.counts().values()) == 300
    assert FetchRecord.objects.count() == 300


def test_not_found_invalid_malformed_and_transient_blobs_are_counted_apart(
    api, tiers, broker_url, start_worker, send_warm
):
    good = make_blobs(30, seed=2)
    others = make_blobs(4, seed=3)
    missing, corrupt, flaky, down = others
    api.blobs.update(good)
    api.blobs.update({sha1: others[sha1] for sha1 in (corrupt, flaky, down)})
    api.corrupt.add(corrupt)
    api.failures[flaky] = 3  # more than the tier's own retries: a task-level retry is needed
    api.failures[down] = 1000
    start_worker(broker_url)

    hashes = [*good, missing, corrupt, flaky, down, "not-a-sha1", "", *list(good)[:5]]
    job = wait_for_job(send_warm(hashes, chunk_size=8).id)

    assert job.status == WarmJob.DONE_WITH_ERRORS
    assert (job.total, job.warmed, job.not_found, job.invalid, job.failed, job.malformed) == (
        36,
        31,
        1,
        1,
        1,
        2,
    )
    assert (job.failed_hashes, job.invalid_hashes) == ([down], [corrupt])
    assert job.malformed_inputs == ["not-a-sha1", ""]
    cached = tiers()
    assert set(cached) == set(good) | {flaky}
    assert all(hashlib.sha1(data).hexdigest() == sha1 for sha1, data in cached.items())
    counts = api.counts()
    assert counts[missing] == 1, "not found is final: never retried"
    assert counts[corrupt] == 1, "invalid data is final: never retried"
    assert counts[flaky] > 3 and counts[down] >= counts[flaky]
    assert all(counts[sha1] == 1 for sha1 in good)


def test_a_killed_worker_leaves_nothing_missing_duplicated_or_corrupted(
    api, tiers, broker_url, start_worker, send_warm
):
    blobs = make_blobs(400, seed=4)
    api.blobs.update(blobs)
    api.delay = 0.03  # slow enough to kill the worker in the middle of the job
    settings = {"visibility_timeout": 3}
    first = start_worker(broker_url, **settings)

    result = send_warm(blobs, chunk_size=20)
    deadline = time.monotonic() + 30
    while sum(api.counts().values()) < 120:
        assert time.monotonic() < deadline, "the first worker did not get going"
        time.sleep(0.01)
    first.kill()
    fetched_before_kill = sum(api.counts().values())
    job = WarmJob.objects.get(task_id=result.id)
    assert job.finished_at is None and job.processed < 400, "killed too late to prove anything"

    # A chunk the killed worker held comes back after the visibility timeout; one whose message
    # the broker lost on the way (kombu's Redis transport can) by the stalled-job watch.
    start_worker(broker_url, **settings, bitstore={"WARM_STALL_AFTER": 10})
    job = wait_for_job(result.id, timeout=60)

    assert job.status == WarmJob.DONE
    assert job.total == job.warmed + job.already_cached == 400
    assert job.failed == job.not_found == job.invalid == 0
    if broker_url.startswith("amqp"):  # RabbitMQ never loses them: redelivery alone did it
        assert job.chunks_resent == 0
    assert tiers() == blobs  # every blob, each with its own bytes, nothing else
    # Every chunk was counted, and each blob once (the totals above add up to exactly 400),
    # although some chunks were delivered twice. A chunk may have a retry attempt too: on a
    # loaded machine a request can time out, and only what failed is tried again.
    assert set(WarmChunk.objects.values_list("index", flat=True)) == set(range(20))
    counts = api.counts()
    assert set(counts) == set(blobs)
    # Only blobs in flight when the worker died (at most 2 chunks of 20) were fetched again.
    assert max(counts.values()) <= 2
    assert sum(counts.values()) - len(blobs) <= 40
    print(
        f"\nkilled after {fetched_before_kill} fetches; fetched again: "
        f"{sum(counts.values()) - len(blobs)}; already cached on redelivery: "
        f"{job.already_cached}"
    )
