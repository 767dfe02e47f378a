"""A tier that returns corrupted bytes: detected, never served, never cached, and recorded in
the ledger as invalid; the next tier is tried."""

import pytest

from bitstore_app import ledger
from bitstore_app.core import NotFoundInStore, trace
from bitstore_app.models import FetchRecord, Tier
from tests.resilience.conftest import make_blob

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(blob_server, tmp_path):
    """A filesystem cache, a verifying HTTP API that lies, and a backup folder source."""
    (tmp_path / "backup").mkdir()  # a source's folder must exist; the cache makes its own
    Tier.objects.create(
        name="cache", kind="filesystem", location=str(tmp_path / "cache"), role=Tier.CACHE
    )
    Tier.objects.create(
        name="liar", kind="http_api", location=blob_server.url, verify=True, write_back=True
    )
    Tier.objects.create(
        name="backup", kind="filesystem", location=str(tmp_path / "backup"), write_back=True
    )
    return tmp_path


def test_corrupted_bytes_are_not_served_nor_cached_and_are_recorded(service, blob_server, tiers):
    sha1, data = make_blob()
    blob_server.blobs[sha1] = data[:-1] + b"!"  # one byte wrong

    result = service.fetch(sha1)
    assert result.data is None and isinstance(result.error, NotFoundInStore)
    assert "invalid data" in [a for a in result.attempts if a.tier == "liar"][0].detail
    assert not (tiers / "cache" / sha1).exists(), "nothing was cached"
    with pytest.raises(NotFoundInStore):
        service.get(sha1)

    assert ledger.buffer.flush() == 2
    record = FetchRecord.objects.filter(sha1=sha1).first()
    assert record.outcome == FetchRecord.INVALID
    # The second read: the tiers that said "not found" a moment ago are not asked again.
    assert [a["outcome"] for a in record.attempts] == ["skipped", "invalid", "skipped"]
    assert [a.get("reason") for a in record.attempts] == ["negative_cache", None, "negative_cache"]


def test_the_next_tier_serves_the_right_bytes_and_only_they_are_cached(service, blob_server, tiers):
    sha1, data = make_blob()
    blob_server.blobs[sha1] = b"something else entirely"
    service.composite().sources[2].put(sha1, data)  # the backup holds the right bytes

    result = service.fetch(sha1)
    assert (result.data, result.served_by, result.cache_written) == (data, "backup", True)
    assert [a.outcome for a in result.attempts] == [trace.NOT_FOUND, trace.INVALID, trace.HIT]
    assert (tiers / "cache" / sha1).read_bytes() == data

    ledger.buffer.flush()
    record = FetchRecord.objects.get(sha1=sha1)
    assert (record.outcome, record.tier_name) == (FetchRecord.HIT, "backup")
    assert record.attempts[1]["outcome"] == "invalid"


def test_a_cache_tier_refuses_bytes_that_do_not_match(service, tiers):
    sha1, data = make_blob()
    cache = service.composite().cache
    with pytest.raises(NotFoundInStore, match="invalid data"):
        cache.put_or_raise(sha1, b"not " + data)
    assert not (tiers / "cache" / sha1).exists()
