"""Leases per SHA1 across processes (coordination/leases.py), on a Redis of the test's own:
one holder at a time, waiters get it when it is released or expires, and a Redis that is down
lets work go on rather than stopping it."""

import subprocess
import sys
import time

import pytest

from bitstore_app.coordination import leases
from tests.helpers import free_port
from tests.resilience.conftest import make_blob
from tests.resilience.processes import REPO

CONTENDERS = 8

#: A process that tries to take the lease once all contenders are started, holds it a moment,
#: and prints whether it got it.
CONTEND = """
import sys, time
from bitstore_app.coordination.leases import RedisLeases
url, sha1, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0, start - time.time()))
held = RedisLeases(url).try_acquire(sha1, f"owner-{sys.argv[4]}", ttl=5)
print("held" if held else "refused", flush=True)
time.sleep(0.5)
"""


@pytest.fixture
def lease_redis(settings, redis_server):
    """Leases in this test's Redis."""
    settings.BITSTORE = {"LEASE_REDIS_URL": redis_server.url}
    return redis_server


def test_one_process_of_many_holds_a_lease(redis_server):
    sha1, _ = make_blob()
    start = time.time() + 1.5  # every process is running by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONTEND, redis_server.url, sha1, str(start), str(number)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for number in range(CONTENDERS)
    ]
    answers = sorted(process.communicate(timeout=30)[0].strip() for process in processes)
    assert answers == ["held"] + ["refused"] * (CONTENDERS - 1)


def test_a_waiter_gets_the_lease_when_it_is_released(lease_redis):
    sha1, _ = make_blob()
    with leases.lease(sha1) as first:
        assert first
        with leases.lease(sha1, wait=0) as second:
            assert not second, "held by the first"
    started = time.monotonic()
    with leases.lease(sha1, wait=1) as third:
        assert third and time.monotonic() - started < 0.5, "released at once, not at wait's end"


def test_a_dead_holders_lease_expires(lease_redis):
    sha1, _ = make_blob()
    assert leases.leases().try_acquire(sha1, "a worker that then dies", ttl=0.5)
    started = time.monotonic()
    with leases.lease(sha1, wait=3) as mine:
        waited = time.monotonic() - started
    assert mine and 0.3 < waited < 1.0


def test_only_the_owner_releases_a_lease(lease_redis):
    sha1, _ = make_blob()
    store = leases.leases()
    assert store.try_acquire(sha1, "me", ttl=5)
    store.release(sha1, "someone else")
    assert not store.try_acquire(sha1, "a third", ttl=5)
    store.release(sha1, "me")
    assert store.try_acquire(sha1, "a third", ttl=5)


def test_without_redis_work_goes_on(settings):
    settings.BITSTORE = {"LEASE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    started = time.monotonic()
    with leases.lease(make_blob()[0], wait=5) as mine:
        assert mine, "granted: coalescing saves work, it must not stop it"
    assert time.monotonic() - started < 1


def test_without_a_redis_to_share_leases_are_per_process(settings, monkeypatch):
    from celery import current_app

    settings.BITSTORE = {"LEASE_REDIS_URL": None, "RATE_LIMIT_REDIS_URL": None}
    # The embedded broker. (Celery's `broker_url` prefers the CELERY_BROKER_URL variable,
    # which CI sets to Redis.)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setitem(current_app.conf, "broker_url", "filesystem://")
    sha1, _ = make_blob()
    assert isinstance(leases.leases(), leases.LocalLeases)
    with leases.lease(sha1) as first, leases.lease(sha1) as second:
        assert first and not second
