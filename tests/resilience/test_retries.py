"""Retries of transient errors, for real, on each remote kind of tier: S3 (moto behind a
proxy that injects errors), GCS (the emulator behind the same proxy) and an HTTP API."""

import time
import uuid

import pytest

from bitstore_app.composer import TierSpec, build_tier
from bitstore_app.core import NotFoundInStore, StoreNotAvailable
from bitstore_app.core.retry import admitting_retries, backoff_delay, call_with_retries
from tests.resilience.conftest import api_tier, make_blob, unique
from tests.resilience.servers import FaultProxy


@pytest.fixture
def s3_proxy(s3_server):
    """(proxy in front of moto, tier spec through it, put(sha1, data) straight into moto)."""
    bucket = s3_server.make_bucket(f"retry-{uuid.uuid4().hex[:10]}")
    proxy = FaultProxy(s3_server.port)
    spec = TierSpec(
        name=unique("s3"),
        kind="s3",
        location=f"s3://{bucket}/blobs/",
        options={"endpoint_url": proxy.endpoint},
        breaker_threshold=0,
    )

    def put(sha1, data):
        s3_server.client().put_object(Bucket=bucket, Key=f"blobs/{sha1}", Body=data)

    yield proxy, spec, put
    proxy.stop()


@pytest.fixture
def gs_proxy(gcs_server):
    """(proxy in front of the GCS emulator, tier spec through it, put straight into GCS)."""
    bucket = gcs_server.make_bucket(f"retry-{uuid.uuid4().hex[:10]}")
    proxy = FaultProxy(gcs_server.port)
    spec = TierSpec(
        name=unique("gs"),
        kind="gs",
        location=f"gs://{bucket}/blobs/",
        options={"endpoint": proxy.endpoint},
        credentials="anonymous",
        breaker_threshold=0,
    )

    def put(sha1, data):
        gcs_server.client().bucket(bucket).blob(f"blobs/{sha1}").upload_from_string(data)

    yield proxy, spec, put
    proxy.stop()


@pytest.fixture(params=["s3", "gs"])
def proxied(request):
    """Each cloud kind behind a FaultProxy."""
    return request.getfixturevalue(f"{request.param}_proxy")


def fresh_tier(spec, put, retries):
    """Return a tier with `retries` and a stored blob: (tier, sha1, data)."""
    tier = build_tier(TierSpec(**{**spec.__dict__, "retries": retries, "name": unique("t")}))
    sha1, data = make_blob("retry")
    put(sha1, data)
    return tier, sha1, data


@pytest.mark.parametrize("status", [500, 503])
def test_cloud_tiers_retry_5xx_and_recover(proxied, status):
    proxy, spec, put = proxied
    tier, sha1, data = fresh_tier(spec, put, retries=2)
    tier.get(sha1)  # let the SDK make its first calls (the GCS SDK reads bucket metadata)
    time.sleep(0.2)
    proxy.seen.clear()
    proxy.fail_next(2, status)
    assert tier.get(sha1) == data
    assert proxy.seen["GET"] == 3, "two failures, then the answer"


def test_cloud_tiers_give_up_after_their_retries(proxied):
    proxy, spec, put = proxied
    tier, sha1, _ = fresh_tier(spec, put, retries=1)
    tier.get(sha1)
    time.sleep(0.2)
    proxy.seen.clear()
    proxy.fail_next(5, 503)
    with pytest.raises(StoreNotAvailable):
        tier.get(sha1)
    assert proxy.seen["GET"] == 2


@pytest.mark.parametrize("status", [403, 404])
def test_cloud_tiers_never_retry_403_or_404(proxied, status):
    proxy, spec, put = proxied
    tier, sha1, _ = fresh_tier(spec, put, retries=3)
    tier.get(sha1)
    time.sleep(0.2)
    proxy.seen.clear()
    proxy.fail_next(5, status)
    expected = NotFoundInStore if status == 404 else StoreNotAvailable
    with pytest.raises(expected):
        tier.get(sha1)
    assert proxy.seen["GET"] == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_the_http_api_tier_retries_transient_statuses(blob_server, status):
    tier = build_tier(api_tier(blob_server.url, retries=2))
    sha1, data = make_blob()
    blob_server.blobs[sha1] = data
    blob_server.failures, blob_server.failure_status = 2, status
    assert tier.get(sha1) == data
    assert blob_server.requests[sha1] == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_the_http_api_tier_never_retries_other_statuses(blob_server, status):
    tier = build_tier(api_tier(blob_server.url, retries=3, negative_ttl=0))
    sha1, data = make_blob()
    blob_server.blobs[sha1] = data
    blob_server.failures, blob_server.failure_status = 5, status
    with pytest.raises(NotFoundInStore if status == 404 else StoreNotAvailable):
        tier.get(sha1)
    assert blob_server.requests[sha1] == 1


def test_a_refused_connection_is_retried_with_backoff(blob_server):
    url = blob_server.url
    blob_server.stop()  # nothing listens on the port any more
    tier = build_tier(api_tier(url, retries=3, breaker_threshold=0))
    started = time.perf_counter()
    with pytest.raises(StoreNotAvailable, match="Connection refused|Failed to establish"):
        tier.get(make_blob()[0])
    # Three pauses of at most 0.05, 0.1 and 0.2 s (full jitter): well under a second.
    assert time.perf_counter() - started < 1.0


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt in range(8):
        delays = [backoff_delay(attempt, base=0.05, cap=1.0) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= min(1.0, 0.05 * 2**attempt)
        assert len(set(delays)) > 100, "jittered"


def test_retries_stop_at_the_deadline():
    calls = []

    def failing():
        calls.append(time.monotonic())
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError):
        call_with_retries(failing, retries=100, transient=lambda e: True, deadline=0.3)
    # The last pause may overshoot: by a little, or by a scheduler tick on a loaded machine;
    # without the deadline, 100 retries with backoff (up to 1 s each) would take most of a minute.
    assert calls[-1] - calls[0] <= 0.3 + 0.25
    assert len(calls) > 3

    calls.clear()
    with pytest.raises(ConnectionResetError):
        call_with_retries(failing, retries=5, transient=lambda e: False)
    assert len(calls) == 1, "an error that is not transient is never retried"


def test_each_retry_is_admitted_by_the_enclosing_blocks_and_a_refusal_ends_the_call():
    calls, admitted = [], []

    def failing():
        calls.append(len(calls))
        raise ConnectionResetError(f"reset {len(calls)}")

    def admit(name, allowed):
        def check():
            admitted.append(name)
            if admitted.count(name) > allowed:
                raise RuntimeError(f"{name} refuses")

        return check

    with admitting_retries(admit("outer", 5)), admitting_retries(admit("inner", 1)):
        with pytest.raises(ConnectionResetError, match="reset 2"):  # the last error
            call_with_retries(failing, retries=5, transient=lambda e: True)
    assert len(calls) == 2 and admitted == ["outer", "inner", "outer", "inner"]
    calls.clear()
    with pytest.raises(ConnectionResetError):
        call_with_retries(failing, retries=2, transient=lambda e: True)
    assert len(calls) == 3, "outside the blocks, retries are not admitted by anyone"
