"""The tier boundary: whatever a tier raises reaches the caller as a bitstore error naming
the tier, with the cause chained, logged once (repeats are counted, not re-logged), and the
web layer answers it with JSON, never a 500.

The faults are real (a server that dies mid-body, a store class that raises KeyError as a
buggy plugin would); no client is mocked."""

import logging

import pytest

from bitstore_app.composer import TierSpec, build_composite, build_tier
from bitstore_app.core import BitstoreError, NotFoundInStore, StoreNotAvailable
from bitstore_app.core import wrapper as wrapper_module
from bitstore_app.models import Tier
from tests.resilience.conftest import api_tier, folder_tier, make_blob, unique
from tests.resilience.servers import ShortBodyServer


@pytest.fixture
def short_server():
    server = ShortBodyServer()
    yield server
    server.stop()


def test_a_bare_exception_becomes_store_not_available_naming_the_tier(caplog):
    spec = TierSpec(name=unique("buggy"), kind="tests.resilience.buggy_source.BuggySource")
    store = build_tier(spec)
    sha1, _ = make_blob()
    with caplog.at_level(logging.ERROR, logger="bitstore_app.core.wrapper"):
        for _ in range(5):
            with pytest.raises(StoreNotAvailable) as raised:
                store.get(sha1)
    assert spec.name in str(raised.value) and "KeyError" in str(raised.value)
    assert isinstance(raised.value.__cause__, KeyError)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, "one traceback per tier and error type, not one per call"
    with pytest.raises(StoreNotAvailable):
        store.exists(sha1)
    with pytest.raises(StoreNotAvailable):
        store.open(sha1)


def test_the_log_says_how_many_repeats_it_left_out(caplog, monkeypatch):
    monkeypatch.setattr(wrapper_module.fault_log, "interval", 0.0)
    spec = TierSpec(name=unique("buggy"), kind="tests.resilience.buggy_source.BuggySource")
    store = build_tier(spec)
    sha1, _ = make_blob()
    monkeypatch.setattr(wrapper_module.fault_log, "interval", 3600.0)
    with caplog.at_level(logging.ERROR, logger="bitstore_app.core.wrapper"):
        for _ in range(3):
            with pytest.raises(StoreNotAvailable):
                store.get(sha1)
        monkeypatch.setattr(wrapper_module.fault_log, "interval", 0.0)
        with pytest.raises(StoreNotAvailable):
            store.get(sha1)
    assert "2 more" in caplog.records[-1].getMessage()


def test_a_composite_reports_the_buggy_tier_unavailable_and_serves_from_the_next(tmp_path):
    sha1, data = make_blob()
    (tmp_path / sha1).write_bytes(data)
    buggy = TierSpec(name=unique("buggy"), kind="tests.resilience.buggy_source.BuggySource")
    composite = build_composite([buggy, folder_tier(tmp_path)])
    assert composite.get(sha1) == data
    missing, _ = make_blob()
    with pytest.raises(NotFoundInStore) as raised:
        composite.get(missing)
    assert buggy.name in str(raised.value)


def test_a_truncated_body_is_not_available_retried_and_never_cached(short_server, tmp_path):
    sha1, data = make_blob(size=100_000)
    short_server.blobs[sha1] = data
    source = api_tier(short_server.url, retries=2, write_back=True)
    cache = folder_tier(tmp_path, role="cache")
    composite = build_composite([cache, source])
    with pytest.raises(BitstoreError) as raised:
        composite.get(sha1)
    assert source.name in str(raised.value)
    assert short_server.gets[sha1] == 3, "the first try and two retries"
    assert not (tmp_path / sha1).exists()
    store = build_tier(api_tier(short_server.url, retries=1))
    with pytest.raises(StoreNotAvailable), store.open(sha1) as stream:
        stream.read()


def test_a_truncated_stream_is_not_available_when_read(short_server):
    sha1, data = make_blob(size=100_000)
    short_server.blobs[sha1] = data
    store = build_tier(api_tier(short_server.url, retries=0))
    stream = store.open(sha1)
    with pytest.raises(StoreNotAvailable) as raised:
        while stream.read(8192):
            pass
    stream.close()
    assert "not available" in str(raised.value)


@pytest.mark.django_db
def test_the_blob_endpoint_answers_json_503_for_a_truncated_source(
    short_server, tmp_path, admin_client
):
    sha1, data = make_blob(size=50_000)
    short_server.blobs[sha1] = data
    Tier.objects.create(name="disk", kind="filesystem", location=str(tmp_path), position=0)
    Tier.objects.create(
        name=unique("short"), kind="http_api", location=short_server.url, position=1, retries=0
    )
    response = admin_client.get(f"/bitstore/blobs/{sha1}")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "try again" in response.json()["error"]


@pytest.mark.django_db
def test_the_blob_endpoint_answers_json_503_for_a_buggy_tier(tmp_path, admin_client):
    Tier.objects.create(
        name=unique("buggy"), kind="tests.resilience.buggy_source.BuggySource", position=0
    )
    sha1, _ = make_blob()
    for url in (f"/bitstore/blobs/{sha1}", f"/bitstore/blobs/{sha1}?x=1"):
        response = admin_client.get(url)
        assert response.status_code == 503, response.content[:300]
        assert "error" in response.json()
    assert admin_client.head(f"/bitstore/blobs/{sha1}").status_code == 503


def test_an_s3_body_cut_short_is_retried(s3_server):
    import uuid

    from tests.resilience.servers import FaultProxy

    bucket = s3_server.make_bucket(f"short-{uuid.uuid4().hex[:10]}")
    proxy = FaultProxy(s3_server.port)
    sha1, data = make_blob(size=200_000)
    s3_server.client().put_object(Bucket=bucket, Key=f"b/{sha1}", Body=data)
    spec = TierSpec(
        name=unique("s3"),
        kind="s3",
        location=f"s3://{bucket}/b/",
        retries=2,
        options={"endpoint_url": proxy.endpoint},
    )
    try:
        proxy.cut_short = 2
        assert build_tier(spec).get(sha1) == data
        assert proxy.seen["GET"] == 3, "two bodies cut short, then the whole one"
        proxy.cut_short = 3
        with pytest.raises(StoreNotAvailable, match="not available"):
            build_tier(spec).get(sha1)
        assert proxy.seen["GET"] == 6, "the first try and two retries"
    finally:
        proxy.stop()
