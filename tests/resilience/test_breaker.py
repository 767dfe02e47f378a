"""The circuit breaker against a real HTTP tier that fails with 503 and then recovers."""

import threading
import time

import pytest

from bitstore_app.composer import build_composite, build_tier
from bitstore_app.core import StoreNotAvailable, breaker
from bitstore_app.core.breaker import CircuitBreaker, CircuitOpen
from bitstore_app.core.guard import GuardedStore
from tests.resilience.conftest import api_tier, folder_tier, make_blob

COOLDOWN = 0.5


@pytest.fixture
def chain(blob_server, tmp_path):
    """An API tier (3 failures open it, 0.5 s cool-down, one retry) before a backup folder
    tier that holds every blob; returns (composite, api spec, backup spec, blobs)."""
    api = api_tier(blob_server.url, retries=1, breaker_threshold=3, breaker_cooldown=COOLDOWN)
    backup = folder_tier(tmp_path)
    composite = build_composite([api, backup])
    blobs = [make_blob("chain") for _ in range(60)]
    for sha1, data in blobs:
        blob_server.blobs[sha1] = data
        composite.sources[1].put(sha1, data)
    return composite, api, backup, iter(blobs)


def served_by(composite, blobs, count):
    """Fetch `count` more blobs, check their bytes, and return who served each."""
    tiers = []
    for _ in range(count):
        sha1, data = next(blobs)
        result = composite.fetch(sha1)
        assert result.data == data
        tiers.append(result.served_by)
    return tiers


def test_a_tier_answering_503_is_skipped_then_comes_back(chain, blob_server, record_property):
    composite, api, backup, blobs = chain
    blob_server.status = 503

    assert served_by(composite, blobs, 10) == [backup.name] * 10
    assert breaker.states()[api.name] == breaker.OPEN
    # 3 gets of 2 attempts each (one retry) opened it; the 7 others never reached the server.
    assert blob_server.total == 6

    blob_server.status = None  # the tier recovers
    assert served_by(composite, blobs, 2) == [backup.name] * 2, "still cooling down"
    assert blob_server.total == 6

    recovered = time.monotonic()
    while served_by(composite, blobs, 1) != [api.name]:
        time.sleep(0.05)
    back_after = time.monotonic() - recovered
    record_property("traffic_back_after_s", round(back_after, 3))
    assert back_after < COOLDOWN + 0.25
    assert breaker.states()[api.name] == breaker.CLOSED
    assert served_by(composite, blobs, 5) == [api.name] * 5, "traffic returns to the tier"


def test_a_failed_trial_opens_the_circuit_again(chain, blob_server):
    composite, api, backup, blobs = chain
    blob_server.status = 503
    served_by(composite, blobs, 3)
    assert breaker.states()[api.name] == breaker.OPEN
    time.sleep(COOLDOWN + 0.05)
    assert breaker.states()[api.name] == breaker.HALF_OPEN

    before = blob_server.total
    assert served_by(composite, blobs, 4) == [backup.name] * 4
    assert blob_server.total - before == 2, "one trial get (two attempts), then fail fast"
    assert breaker.states()[api.name] == breaker.OPEN


def test_only_one_trial_request_while_half_open(chain, blob_server):
    composite, api, backup, blobs = chain
    blob_server.status = 503
    served_by(composite, blobs, 3)
    blob_server.status, blob_server.delay = None, 0.5  # back, but slow
    time.sleep(COOLDOWN + 0.05)

    before = blob_server.total
    keys = [next(blobs) for _ in range(16)]
    results, seconds = {}, {}
    start = threading.Barrier(len(keys))

    def fetch(sha1):
        start.wait()
        started = time.perf_counter()
        results[sha1] = composite.fetch(sha1)
        seconds[sha1] = time.perf_counter() - started

    threads = [threading.Thread(target=fetch, args=(sha1,)) for sha1, _ in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert blob_server.total - before == 1, "exactly one trial request reached the tier"
    assert all(results[sha1].data == data for sha1, data in keys)
    by_api = [sha1 for sha1, _ in keys if results[sha1].served_by == api.name]
    assert len(by_api) == 1
    others = [seconds[sha1] for sha1, _ in keys if sha1 not in by_api]
    assert max(others) < 0.1, "the other calls failed fast while the trial ran"
    assert breaker.states()[api.name] == breaker.CLOSED


def test_not_found_answers_keep_the_circuit_closed(blob_server):
    tier = build_tier(api_tier(blob_server.url, breaker_threshold=2, negative_ttl=0))
    for _ in range(5):
        assert not tier.exists(make_blob()[0])
    assert blob_server.total == 5
    assert breaker.states()[tier.name] == breaker.CLOSED


def test_a_success_resets_the_count_of_failures(blob_server):
    tier = build_tier(api_tier(blob_server.url, retries=0, breaker_threshold=3))
    sha1, data = make_blob()
    blob_server.blobs[sha1] = data
    for _ in range(4):
        blob_server.failures = 2
        for _ in range(2):
            with pytest.raises(StoreNotAvailable):
                tier.get(sha1)
        assert tier.get(sha1) == data
    assert breaker.states()[tier.name] == breaker.CLOSED


def test_the_breaker_is_shared_by_every_store_built_for_a_tier(blob_server):
    spec = api_tier(blob_server.url, retries=0, breaker_threshold=1)
    first, second = build_tier(spec), build_tier(spec)
    blob_server.status = 503
    with pytest.raises(StoreNotAvailable):
        first.get(make_blob()[0])
    with pytest.raises(CircuitOpen):
        second.get(make_blob()[0])
    breaker.reset()
    assert breaker.states()[spec.name] == breaker.CLOSED


def test_a_breaker_with_threshold_zero_never_opens(blob_server):
    tier = GuardedStore(build_tier(api_tier(blob_server.url, retries=0), guarded=False))
    blob_server.status = 503
    for _ in range(10):
        with pytest.raises(StoreNotAvailable) as caught:
            tier.get(make_blob()[0])
        assert not isinstance(caught.value, CircuitOpen)
    assert blob_server.total == 10
    assert CircuitBreaker(0).state == breaker.CLOSED
