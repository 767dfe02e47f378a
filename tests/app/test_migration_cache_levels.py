"""Upgrading to cache levels (migration 0010): a database and a cache folder made by the
previous release keep serving. The old one enabled cache becomes level 1, puts still go
into it (the one unbounded cache), a second cache can now be enabled, the ledger's old
write-backs are credited to the cache, and the old cache files count toward a `max_bytes`
set afterwards. A setup without a cache keeps putting into the source its puts went to."""

import hashlib
import io
import os
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

import bitstore_app
from bitstore_app import services
from bitstore_app.core import LocationIndex
from bitstore_app.index_preload import preload
from bitstore_app.models import LedgerRollup, Tier
from tests.app.schema import migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("bitstore_app", "0009_tier_prices_and_budgets")]
MINUTE = datetime(2026, 11, 30, 12, 34, tzinfo=UTC)


def blob(label, size=50_000):
    data = hashlib.sha256(label.encode()).digest() * (size // 32)
    return hashlib.sha1(data).hexdigest(), data


@pytest.fixture
def old_schema():
    """Migrate back to the previous release's schema; yield its models; migrate forward."""
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    migrated = {"done": False}

    def upgrade():
        migrate()
        migrated["done"] = True

    old.upgrade = upgrade
    yield old
    if not migrated["done"]:
        upgrade()


def test_an_old_cache_and_its_files_keep_serving_and_count_toward_max_bytes(old_schema, tmp_path):
    cache, spare, source = tmp_path / "cache", tmp_path / "spare", tmp_path / "source"
    for folder in (cache, source):
        folder.mkdir()
    cached = [blob(f"cached {number}") for number in range(5)]  # 250 kB left by the old release
    for age, (sha1, data) in enumerate(cached):
        (cache / sha1).write_bytes(data)
        os.utime(cache / sha1, (1_000_000 - age, 1_000_000 - age))
    tier = old_schema.get_model("bitstore_app", "Tier")
    old_cache = tier.objects.create(
        name="cache", kind="filesystem", location=str(cache), role="cache", position=0
    )
    tier.objects.create(
        name="spare", kind="filesystem", location=str(spare), role="cache", enabled=False
    )
    tier.objects.create(
        name="source", kind="filesystem", location=str(source), write_back=True, position=1
    )
    tier.objects.create(name="api", kind="http_api", location="http://127.0.0.1:9/b", position=2)
    old_schema.get_model("bitstore_app", "FetchRecord").objects.create(
        sha1=cached[0][0],
        tier_name="source",
        outcome="hit",
        attempts=[{"tier": "cache", "outcome": "not_found", "ms": 1.0}],
        size=len(cached[0][1]),
        latency_ms=3.0,
        cache_written=True,
        created_at=MINUTE,
    )
    old_schema.upgrade()

    Tier.objects.update(updated_at=datetime(2026, 11, 1, tzinfo=UTC))  # saved before the record
    index = LocationIndex()
    # An old write-back is located in the cache, the first tier in order, which needs no
    # hint: nothing is loaded (located at "source", it would have been).
    assert (preload(index, services.composite(), 10), len(index)) == (0, 0)
    upgraded = Tier.objects.get(pk=old_cache.pk)
    assert (upgraded.max_bytes, upgraded.read_only, upgraded.accepts_puts) == (None, False, False)
    assert [str(level) for level in services.composite().caches] == ["cache"]
    assert bitstore_app.get(cached[0][0]) == cached[0][1]
    put_sha1, put_data = blob("put after the upgrade", 1000)
    assert bitstore_app.put(put_data) == put_sha1  # the one unbounded cache takes puts
    assert (cache / put_sha1).read_bytes() == put_data

    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    row = LedgerRollup.objects.get(minute=MINUTE, tier_name="cache")
    assert row.bytes_written == len(cached[0][1])  # the old write-back went into the cache

    Tier.objects.filter(name="spare").update(enabled=True)  # a second cache: level 2
    Tier.objects.filter(name="cache").update(max_bytes=200_000)
    services.configuration.invalidate()
    assert [str(level) for level in services.composite().caches] == ["cache", "spare"]
    usage = services.cache_levels()[0].usage  # counts the old release's files
    assert usage.bytes <= 180_000 and usage.evictions == 2
    sha1, data = blob("new")
    (source / sha1).write_bytes(data)
    assert bitstore_app.get(sha1) == data
    held = sum(p.stat().st_size for p in cache.iterdir() if p.name[0] != ".")
    assert held <= 200_000 and (cache / sha1).exists() and (spare / sha1).exists()


@pytest.mark.parametrize(
    ("kinds", "marked"),
    [
        (["http_api", "filesystem", "filesystem"], 1),  # the first that could write
        (["tests.app.sources.DictSource", "filesystem"], None),  # unknown: left to the operator
    ],
)
def test_without_a_cache_puts_keep_going_to_the_source_they_went_to(
    old_schema, tmp_path, kinds, marked
):
    tier = old_schema.get_model("bitstore_app", "Tier")
    folders = []
    for position, kind in enumerate(kinds):
        folder = tmp_path / f"tier{position}"
        folder.mkdir()
        folders.append(folder)
        location = "http://127.0.0.1:9/b" if kind == "http_api" else str(folder)
        tier.objects.create(name=f"tier{position}", kind=kind, location=location, position=position)
    tier.objects.create(name="off", kind="memory", role="cache", enabled=False)
    old_schema.upgrade()
    accepting = list(Tier.objects.filter(accepts_puts=True).values_list("name", flat=True))
    assert accepting == ([] if marked is None else [f"tier{marked}"])
    if marked is not None:
        sha1 = bitstore_app.put(b"uploaded after the upgrade")
        assert (folders[marked] / sha1).read_bytes() == b"uploaded after the upgrade"
