"""A warm job whose chunk messages the broker lost: the workers' watch sends its unfinished
chunks again once it has counted nothing for WARM_STALL_AFTER seconds, and the job completes.
On the filesystem broker a killed worker loses them for real (the last test).

The lost messages are never sent: the test creates the job as `start_warm_job` does and sends
only some of its chunk tasks, which leaves the broker in the state a lost message leaves it
in (a broker that loses a message on its own cannot be made to, on time, in a test; the Redis
restart test, tests/resilience/test_redis_down.py, is the real fault)."""

import re
import subprocess
import sys
import time

import pytest
from kombu import Connection

from bitstore_app.models import Tier, WarmChunk, WarmJob, WarmJobHashes
from bitstore_app.tasks import warm_chunk
from bitstore_app.warming import create_job
from bitstore_app.warming.stalled import resend_stalled, unfinished_chunks
from tests.helpers import free_port
from tests.warming.conftest import REPO, make_blobs, wait_for_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BLOBS, CHUNK = 100, 10
#: Chunks sent (the others are lost), and a chunk whose first attempt left SHA1s to retry.
SENT, RETRYING = [0, 1, 2, 3, 5, 8], 4
STALL_AFTER = 6.0


def test_the_chunks_a_broker_lost_are_sent_again_once_and_the_job_completes(
    api, tiers, broker_url, queue, start_worker
):
    blobs = make_blobs(BLOBS, seed=11)
    api.blobs.update(blobs)
    # The workers first, so that no slow start can make the sent chunks look stalled.
    workers = [start_worker(broker_url, bitstore={"WARM_STALL_AFTER": STALL_AFTER})]
    workers.append(start_worker(broker_url, bitstore={"WARM_STALL_AFTER": STALL_AFTER}))
    job, chunks = create_job(blobs, chunk_size=CHUNK)  # start_warm_job's, without sending
    WarmJobHashes.objects.create(job=job, hashes=list(blobs))
    # Chunk 4's first attempt counted nothing and left its SHA1s for attempt 1, whose
    # message was lost too.
    WarmChunk.objects.create(job=job, index=RETRYING, attempt=0, retry_hashes=chunks[RETRYING])
    by_index = {index: (hashes, attempt) for index, hashes, attempt in unfinished_chunks(job)}
    assert sorted(by_index) == list(range(len(chunks)))
    assert by_index[RETRYING] == (chunks[RETRYING], 1)

    with Connection(broker_url) as connection:
        for index in SENT:
            warm_chunk.apply_async(
                (job.pk, index, chunks[index]), connection=connection, queue=queue
            )
    lost = sorted(set(range(len(chunks))) - set(SENT) - {RETRYING})
    done = wait_for_job(pk=job.pk)

    assert done.status == WarmJob.DONE
    assert (done.total, done.warmed) == (BLOBS, BLOBS)
    assert tiers() == blobs
    assert done.chunks_resent == len(lost) + 1, "the lost chunks and chunk 4's retry, once"
    assert done.resent_at is not None
    attempts = set(WarmChunk.objects.filter(job=job).values_list("index", "attempt"))
    assert attempts == {(i, 0) for i in range(len(chunks))} | {(RETRYING, 1)}
    pattern = rf"warm job {job.pk} counted nothing for \d+ s: (\d+) unfinished chunk"
    resends = [re.findall(pattern, worker.text()) for worker in workers]
    # One worker claimed the job and logged it (twice: Django's handler and Celery's).
    claimed = [set(sent) for sent in resends if sent]
    assert claimed == [{str(len(lost) + 1)}], resends
    assert unfinished_chunks(done) == []


def test_a_job_that_counts_is_not_stalled_and_nothing_is_sent_without_its_hashes(
    settings, tmp_path
):
    settings.BITSTORE = {"WARM_STALL_AFTER": 60.0}
    Tier.objects.create(name="cache", kind="filesystem", location=str(tmp_path), role=Tier.CACHE)
    blobs = make_blobs(3, seed=12)
    job, _ = create_job(blobs, chunk_size=1)
    assert not WarmJobHashes.objects.filter(job=job).exists(), "a job warmed here is not watched"
    WarmJobHashes.objects.create(job=job, hashes=list(blobs))
    WarmJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))

    WarmChunk.objects.create(job=job, index=0, attempt=0)  # counted a moment ago: moving
    assert resend_stalled() == {}

    WarmChunk.objects.filter(job=job).update(finished_at=job.created_at.replace(year=2020))
    settings.BITSTORE = {"WARM_STALL_AFTER": 0}  # stalled, but the watch is off
    assert resend_stalled() == {}
    assert WarmJob.objects.get(pk=job.pk).resent_at is None

    settings.BITSTORE = {"WARM_STALL_AFTER": 60.0}
    WarmJobHashes.objects.filter(job=job).delete()  # made before the upgrade, or warmed here
    assert resend_stalled() == {}


def test_on_the_filesystem_broker_a_killed_worker_s_chunks_are_sent_again(
    api, tiers, tmp_path, start_worker, worker_env
):
    """The filesystem broker (`make run`'s) deletes a message as it hands it out: the chunks
    a killed worker held are gone from the broker, and only the watch brings them back."""
    blobs = make_blobs(BLOBS, seed=13)
    api.blobs.update(blobs)
    api.delay = 0.03  # slow enough to kill the worker in the middle of the job
    broker_dir = tmp_path / "broker"
    first = start_worker(broker_dir=broker_dir)
    file = tmp_path / "hashes.txt"
    file.write_text("\n".join(blobs))
    command = [sys.executable, "manage.py", "bitstore_warm", str(file), "--chunk-size", "10"]
    subprocess.run(
        [*command, "--no-wait"], cwd=REPO, env=worker_env(broker_dir=broker_dir), check=True
    )
    deadline = time.monotonic() + 30
    while sum(api.counts().values()) < 20:
        assert time.monotonic() < deadline, "the first worker did not get going"
        time.sleep(0.01)
    first.kill()
    job = WarmJob.objects.get()
    assert job.finished_at is None, "killed too late to prove anything"

    # Celery's default pool this time: the watch is a thread of the pool's parent process.
    second = start_worker(
        broker_dir=broker_dir, pool="prefork", bitstore={"WARM_STALL_AFTER": STALL_AFTER}
    )
    done = wait_for_job(pk=job.pk)

    assert (done.status, done.warmed + done.already_cached) == (WarmJob.DONE, BLOBS)
    assert tiers() == blobs
    assert done.chunks_resent >= 1, "the killed worker's chunks came back only by the watch"
    assert f"warm job {job.pk} counted nothing for" in second.text()
    assert {index for index, _ in WarmChunk.objects.values_list("index", "attempt")} == set(
        range(BLOBS // CHUNK)
    )


#: The stalled-job watch's look, once, in a process of its own (its broker from the env).
LOOK = """
import django
django.setup()
from bitstore_app.warming.stalled import resend_stalled
print(resend_stalled())
"""


def test_a_stalled_job_the_broker_refused_is_claimed_again_at_the_next_look(
    tmp_path, worker_env, redis_broker_url
):
    Tier.objects.create(name="cache", kind="filesystem", location=str(tmp_path), role=Tier.CACHE)
    blobs = make_blobs(3, seed=13)
    job, _ = create_job(blobs, chunk_size=1)
    WarmJobHashes.objects.create(job=job, hashes=list(blobs))
    WarmJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))

    def look(broker):
        env = worker_env(broker, bitstore={"WARM_STALL_AFTER": 60.0})
        command = [sys.executable, "-c", LOOK]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)

    refused = look(f"redis://127.0.0.1:{free_port()}/0")  # a closed port
    assert refused.returncode == 1 and "BrokerUnavailable" in refused.stderr, refused.stderr
    job.refresh_from_db()
    assert (job.resent_at, job.chunks_resent) == (None, 0), "the claim is let go"

    sent = look(redis_broker_url)
    assert sent.stdout.strip() == f"{{{job.pk}: 3}}", sent.stderr
    job.refresh_from_db()
    assert job.resent_at is not None and job.chunks_resent == 3
