"""The service's speed options: the location index on the service's composite, warmed from
the ledger, a new one per configuration, and concurrent probes as a setting."""

from datetime import timedelta

import pytest
from django.utils import timezone

import bitstore_app
from bitstore_app import index_preload, services
from bitstore_app.models import FetchRecord, Tier
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cold_process():
    """Each test is a process that has not warmed an index yet."""
    index_preload.reset()
    yield
    index_preload.reset()


@pytest.fixture
def three_folders(tmp_path):
    """Folder tiers "a", "b" and "c"; returns {name: folder}."""
    folders = {}
    for position, name in enumerate("abc"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        Tier.objects.create(
            name=name, kind="filesystem", location=str(folders[name]), position=position
        )
    return folders


def hit(sha1, tier, cache_written=False, **fields):
    return FetchRecord.objects.create(
        sha1=sha1,
        tier_name=tier,
        outcome=FetchRecord.HIT,
        latency_ms=1.0,
        cache_written=cache_written,
        created_at=fields.pop("created_at", timezone.now()),
        **fields,
    )


def test_a_blob_read_before_is_read_from_its_tier_first(three_folders):
    sha1, data = make_blob()
    (three_folders["c"] / sha1).write_bytes(data)
    first = services.fetch(sha1)
    assert [a.tier for a in first.attempts] == ["a", "b", "c"]
    again = services.fetch(sha1)
    assert (again.data, [(a.tier, a.outcome) for a in again.attempts]) == (
        data,
        [("a", "skipped"), ("b", "skipped"), ("c", "hit")],
    )
    assert [a.reason for a in again.attempts] == ["index", "index", None]


def test_the_index_starts_from_the_ledgers_hits_since_the_tiers_changed(three_folders):
    recent, old, written = make_blob("recent"), make_blob("old"), make_blob("written")
    for sha1, data in (recent, old, written):
        (three_folders["c"] / sha1).write_bytes(data)
    hit(recent[0], "c")
    hit(old[0], "c", created_at=timezone.now() - timedelta(days=1))  # before the tiers' save
    Tier.objects.filter(name="b").update(role=Tier.CACHE)
    hit(written[0], "c", cache_written=True)
    index = services.composite().index
    assert index.get(recent[0]) == "c"
    assert index.get(old[0]) is None
    assert index.get(written[0]) == "b", "a blob written back is where the cache is"
    # The index skips tier a; the cache is still asked first, since another process may have
    # filled it since the ledger's hit.
    attempts = services.fetch(recent[0]).attempts
    assert [(a.tier, a.outcome) for a in attempts] == [
        ("a", "skipped"),
        ("b", "not_found"),
        ("c", "hit"),
    ]


def test_hits_of_the_first_tier_in_order_are_not_loaded(three_folders):
    first, third = make_blob("first"), make_blob("third")
    hit(first[0], "a")
    hit(third[0], "c")
    index = services.composite().index
    assert (index.get(first[0]), index.get(third[0]), len(index)) == (None, "c", 1)


def test_only_a_processs_first_configuration_is_warmed_from_the_ledger(three_folders):
    sha1, data = make_blob()
    (three_folders["c"] / sha1).write_bytes(data)
    hit(sha1, "c")
    assert services.composite().index.get(sha1) == "c"
    Tier.objects.filter(name="a").update(position=5)  # a new configuration, a new order
    services.configuration.invalidate()
    assert services.composite().index.get(sha1) is None


def test_the_settings_turn_the_options_on_and_off(three_folders, bitstore_config):
    bitstore_config(LOCATION_INDEX_SIZE=0, CONCURRENT_PROBES=4)
    composite = services.composite()
    assert (composite.index, composite.concurrent) == (None, 4)
    sha1, data = make_blob()
    (three_folders["b"] / sha1).write_bytes(data)
    assert bitstore_app.get(sha1) == data
    assert [a.tier for a in services.fetch(sha1).attempts] == ["a", "b"]


def test_the_defaults_are_an_index_and_no_concurrent_probes(three_folders):
    composite = services.composite()
    assert composite.index is not None and composite.index.size == 100_000
    assert composite.concurrent is False
