"""The warming service in this process: jobs, chunks counted once, retries, the tasks run
eagerly. The tiers are real: moto's S3 server as the cache, a blob API on loopback."""

import pytest

from bitstore_app import ledger, warming
from bitstore_app.models import FetchRecord, Tier, WarmChunk, WarmJob
from bitstore_app.tasks import warm_cache
from tests.warming.conftest import make_blobs

pytestmark = pytest.mark.django_db


def test_entries_are_normalised_deduplicated_and_malformed_ones_kept_apart():
    sha1 = "a" * 40
    entries = warming.Entries.read([sha1, "sha1://" + "A" * 40, "b" * 40, "nope", "c" * 41, 7])

    assert entries.hashes == [sha1, "b" * 40]
    assert entries.malformed == ["nope", "c" * 41, "7"]
    assert entries.chunks(1) == [[sha1], ["b" * 40]]
    assert warming.Entries.read(sha1).hashes == [sha1], "one SHA1 on its own is not 40 entries"


def test_a_job_needs_a_cache_tier(api):
    Tier.objects.create(name="api", kind="http_api", location=api.url)

    with pytest.raises(warming.NoCacheTier):
        warming.create_job(["a" * 40])
    assert not WarmJob.objects.exists()


def test_a_job_of_nothing_but_malformed_entries_is_done_at_once(tiers):
    job, chunks = warming.create_job(["nope", "never"])

    assert chunks == []
    assert (job.status, job.total, job.malformed, job.progress) == (WarmJob.DONE, 2, 2, 1.0)


def test_a_chunk_delivered_twice_is_counted_once_and_fetched_once(api, tiers):
    blobs = make_blobs(8, seed=10)
    api.blobs.update(blobs)
    job, [chunk] = warming.create_job(blobs)

    assert warming.warm_chunk(job.pk, 0, chunk) == []
    assert warming.warm_chunk(job.pk, 0, chunk) == []

    job.refresh_from_db()
    assert (job.warmed, job.already_cached, job.status) == (8, 0, WarmJob.DONE)
    assert job.bytes == sum(map(len, blobs.values()))
    assert set(api.counts().values()) == {1}
    assert tiers() == blobs
    assert WarmChunk.objects.count() == 1


def test_blobs_already_in_the_cache_are_not_downloaded_again(api, tiers, s3_server, cache_bucket):
    blobs = make_blobs(8, seed=11)
    api.blobs.update(blobs)
    cached = dict(list(blobs.items())[:5])
    for sha1, data in cached.items():  # as a worker killed in the middle of the chunk left them
        s3_server.client().put_object(Bucket=cache_bucket, Key=f"blobs/{sha1}", Body=data)
    job, [chunk] = warming.create_job(blobs)

    warming.warm_chunk(job.pk, 0, chunk)

    job.refresh_from_db()
    assert (job.already_cached, job.warmed) == (5, 3)
    assert set(api.counts()) == set(blobs) - set(cached)
    ledger.buffer.flush()
    assert FetchRecord.objects.count() == 3, "existence checks are not fetches"
    assert tiers() == blobs


def test_transient_failures_are_tried_again_and_counted_as_failed_after_the_last_try(
    api, tiers, bitstore_config
):
    bitstore_config(WARM_MAX_RETRIES=1)
    blobs = make_blobs(3, seed=12)
    api.blobs.update(blobs)
    down = next(iter(blobs))
    api.failures[down] = 1000
    job, [chunk] = warming.create_job(blobs)

    assert warming.warm_chunk(job.pk, 0, chunk, attempt=0) == [down]
    job.refresh_from_db()
    assert (job.warmed, job.failed, job.finished_at) == (2, 0, None)

    assert warming.warm_chunk(job.pk, 0, [down], attempt=1) == []
    job.refresh_from_db()
    assert (job.warmed, job.failed, job.failed_hashes) == (2, 1, [down])
    assert job.status == WarmJob.DONE_WITH_ERRORS and job.finished_at is not None
    assert job.retryable_hashes == [down]
    assert list(WarmChunk.objects.order_by("attempt").values_list("retry_hashes", flat=True)) == [
        [down],
        [],
    ]


def test_retry_delays_grow_exponentially_with_jitter_up_to_a_cap(bitstore_config):
    bitstore_config(WARM_RETRY_BACKOFF=1.0, WARM_RETRY_BACKOFF_MAX=8.0)

    for attempt, bound in [(0, 1), (2, 4), (6, 8)]:
        delays = [warming.retry_delay(attempt) for _ in range(300)]
        assert all(0 <= delay <= bound for delay in delays)
        assert max(delays) > bound / 2, "the delays spread over the whole range"
        assert len(set(delays)) > 250, (
            "jittered: workers that failed together do not retry together"
        )


def test_start_warm_job_enqueues_the_chunks_only_after_commit(
    api, tiers, eager, django_capture_on_commit_callbacks
):
    blobs = make_blobs(12, seed=13)
    api.blobs.update(blobs)

    with django_capture_on_commit_callbacks() as callbacks:
        job = warming.start_warm_job(blobs, chunk_size=5)
        assert job.chunks == 3
        assert job.input.hashes == list(blobs), "kept, should a broker lose a chunk"
        assert api.counts() == {}, "nothing is sent before the transaction commits"
    assert len(callbacks) == 1
    callbacks[0]()

    job.refresh_from_db()
    assert (job.status, job.warmed) == (WarmJob.DONE, 12)
    assert tiers() == blobs


def test_warm_cache_returns_the_job_and_a_second_delivery_counts_nothing_twice(
    api, tiers, eager, django_capture_on_commit_callbacks
):
    blobs = make_blobs(6, seed=14)
    api.blobs.update(blobs)

    with django_capture_on_commit_callbacks(execute=True):
        result = warm_cache.apply(args=(list(blobs),), kwargs={"chunk_size": 4}, task_id="t-1")
    with django_capture_on_commit_callbacks(execute=True):
        warm_cache.apply(args=(list(blobs),), kwargs={"chunk_size": 4}, task_id="t-1")

    job = WarmJob.objects.get()
    assert result.get() == {"job_id": job.pk, "total": 6, "chunks": 2}
    assert (job.task_id, job.warmed, job.already_cached, job.status) == ("t-1", 6, 0, "done")
    assert set(api.counts().values()) == {1}
    # Each fetch is in the ledger with the id of the chunk task that made it.
    assert FetchRecord.objects.count() == 6
    assert "" not in set(FetchRecord.objects.values_list("task_id", flat=True))


def test_task_names_stay_those_queued_messages_name():
    """Messages queued by an earlier release name the tasks by these strings."""
    from celery import current_app

    from bitstore_app import tasks

    assert tasks.warm_cache.name == "bitstore_app.tasks.warm_cache"
    assert tasks.warm_chunk.name == "bitstore_app.tasks.warm_chunk"
    assert {"bitstore_app.tasks.warm_cache", "bitstore_app.tasks.warm_chunk"} <= set(
        current_app.tasks
    )
