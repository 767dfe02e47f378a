"""The cache levels' per-minute samples: taken by the ledger's background thread (none
without it), at most once a minute, from real fills that evict; a `get` neither queries for
them nor waits for them; the newest sample of a minute is kept; a level that is not counted
is not sampled."""

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import bitstore_app
from bitstore_app import ledger, services
from bitstore_app.core.usage import Usage
from bitstore_app.ledger import level_samples
from bitstore_app.models import CacheLevelSample, FetchRecord, Tier
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db

KB = 50_000
SIZE = KB // 32 * 32  # a blob's bytes


@pytest.fixture
def levels(tmp_path):
    """A source that writes back into three cache levels: a folder bounded to 200 kB, a
    memory level bounded to 150 kB, and an unbounded folder never scrubbed (not counted).
    Returns a function that adds a 50 kB blob only the source holds, and returns its SHA1."""
    source = tmp_path / "source"
    source.mkdir()
    Tier.objects.create(
        name="source", kind="filesystem", location=str(source), write_back=True, position=9
    )
    for position, (name, kind, max_bytes) in enumerate(
        [("disk", "filesystem", 200_000), ("mem", "memory", 150_000), ("shelf", "filesystem", None)]
    ):
        location = str(tmp_path / name) if kind == "filesystem" else ""
        Tier.objects.create(
            name=name,
            kind=kind,
            location=location,
            role=Tier.CACHE,
            position=position,
            max_bytes=max_bytes,
        )

    def add(number):
        data = hashlib.sha256(f"sampled blob {number}".encode()).digest() * (KB // 32)
        sha1 = hashlib.sha1(data).hexdigest()
        (source / sha1).write_bytes(data)
        return sha1

    return add


def counted(name):
    """Return what the level `name` holds now, as this process counts it."""
    return next(level.usage for level in services.cache_levels() if level.tier == name)


def stored(name):
    """Return the level's samples as (bytes, blobs, evictions), oldest first."""
    rows = CacheLevelSample.objects.filter(tier_name=name).order_by("minute")
    return list(rows.values_list("bytes", "blobs", "evictions"))


def figures(usage):
    return (usage.bytes, usage.blobs, usage.evictions)


@pytest.mark.django_db(transaction=True)
def test_the_ledger_thread_samples_each_level_at_most_once_a_minute(
    levels, bitstore_config, monkeypatch
):
    for number in range(8):  # 400 kB through a 200 kB folder and a 150 kB memory level
        bitstore_app.get(levels(number))
    evicted = figures(counted("disk")), figures(counted("mem"))
    assert evicted[0][2] >= 4 and evicted[1][2] >= 5
    calls = []
    sampler = ledger.buffer.sampler

    def sample():  # the real sampler, counted: which thread calls it, and in which minute
        calls.append((threading.current_thread().name, int(time.time() // 60)))
        return sampler()

    monkeypatch.setattr(ledger.buffer, "sampler", sample)
    bitstore_config(LEDGER_BACKGROUND_FLUSH=True, LEDGER_FLUSH_INTERVAL=0.05)
    bitstore_app.get(levels(7))  # a cache hit: its record starts the thread
    wait_until(lambda: CacheLevelSample.objects.count() == 2, message="no samples")
    assert (stored("disk"), stored("mem"), stored("shelf")) == ([evicted[0]], [evicted[1]], [])

    for number in range(8, 12):  # more evictions, and more passes of the thread
        bitstore_app.get(levels(number))
    wait_until(lambda: FetchRecord.objects.count() == 13, message="records not flushed")
    bitstore_app.get(levels(11))  # written by a later pass: the one that flushed the fills ended
    wait_until(lambda: FetchRecord.objects.count() == 14, message="records not flushed")
    minutes = [minute for _, minute in calls]
    assert {name for name, _ in calls} == {"bitstore-ledger"}
    assert len(minutes) == len(set(minutes))  # at most once in each minute
    newest = [figures(counted("disk")), figures(counted("mem"))]
    assert newest[0][2] > evicted[0][2]
    if len(calls) == 1:  # the same minute: the first sample stands
        assert (stored("disk"), stored("mem")) == ([evicted[0]], [evicted[1]])
    else:  # the minute turned meanwhile: one sample of it, as the levels were by then
        assert [stored("disk")[-1], stored("mem")[-1]] == newest


@pytest.mark.django_db(transaction=True)
def test_a_get_neither_queries_nor_waits_while_the_levels_are_sampled(
    levels, bitstore_config, django_assert_num_queries, monkeypatch
):
    bitstore_config(
        LEDGER_BACKGROUND_FLUSH=True, LEDGER_FLUSH_INTERVAL=0.05, CONFIG_CHECK_INTERVAL=60
    )
    sampling, release = threading.Event(), threading.Event()
    sampler = ledger.buffer.sampler

    def slow_sample():  # the real sampler, held until the gets below are done
        sampling.set()
        assert release.wait(30)
        return sampler()

    monkeypatch.setattr(ledger.buffer, "sampler", slow_sample)
    sha1 = levels(1)
    bitstore_app.get(sha1)  # builds the composite, fills the levels, starts the thread
    assert sampling.wait(10)
    with django_assert_num_queries(0):
        for _ in range(50):
            bitstore_app.get(sha1)
    release.set()
    wait_until(lambda: CacheLevelSample.objects.count() == 2, message="no samples")
    assert stored("disk") == [(SIZE, 1, 0)] and stored("mem") == [(SIZE, 1, 0)]


def test_no_samples_without_the_ledgers_background_thread(levels, bitstore_config):
    bitstore_app.get(levels(1))  # LEDGER_BACKGROUND_FLUSH is off in the tests
    ledger.buffer.flush()
    assert FetchRecord.objects.count() == 1 and CacheLevelSample.objects.count() == 0
    bitstore_config(LEDGER_ENABLED=False, LEDGER_BACKGROUND_FLUSH=True)
    bitstore_app.get(levels(2))  # nothing recorded: no thread is started
    assert "bitstore-ledger" not in {thread.name for thread in threading.enumerate()}


def test_the_newest_sample_of_a_minute_is_kept():
    minute = datetime(2026, 12, 6, 12, 34, tzinfo=UTC)
    assert level_samples.record({"disk": Usage(300, 3, 1)}, minute + timedelta(seconds=30)) == 1
    # Another process's older sample of the same minute, written later: not kept.
    assert level_samples.record({"disk": Usage(100, 1, 0)}, minute + timedelta(seconds=10)) == 0
    assert stored("disk") == [(300, 3, 1)]
    assert level_samples.record({"disk": Usage(400, 4, 2)}, minute + timedelta(seconds=50)) == 1
    level_samples.record({"disk": Usage(500, 5, 2)}, minute + timedelta(minutes=1))
    assert stored("disk") == [(400, 4, 2), (500, 5, 2)]
    sample = CacheLevelSample.objects.get(minute=minute)
    assert sample.taken_at == minute + timedelta(seconds=50) and str(sample).endswith(" disk")


def test_sampling_reads_the_configuration_in_use_and_samples_what_is_counted(levels):
    assert services.sample_cache_levels() == 0  # no fetch yet: no configuration in use
    bitstore_app.get(levels(1))
    assert services.sample_cache_levels() == 2  # "shelf" is not counted: no sample
    assert stored("disk") == [(SIZE, 1, 0)] and stored("shelf") == []
