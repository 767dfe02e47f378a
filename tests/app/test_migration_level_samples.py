"""Upgrading to the cache levels' samples (migration 0011): a database of the previous release
gains the samples' table and keeps its tiers and rollups; its bounded level is sampled at
once, one sample per level and minute; migrating back drops the table and nothing else."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

import bitstore_app
from bitstore_app import services
from bitstore_app.admin import trends
from bitstore_app.models import CacheLevelSample, LedgerRollup, Tier
from tests.app.schema import migrate, schema_of

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("bitstore_app", "0010_cache_levels")]
MINUTE = datetime(2026, 11, 30, 12, 34, tzinfo=UTC)
TABLE = CacheLevelSample._meta.db_table


@pytest.fixture
def old_schema():
    """Migrate back to the previous release's schema; yield its models; migrate forward."""
    with schema_of(BEFORE) as apps:
        yield apps


def test_an_upgraded_database_samples_its_levels_and_a_downgrade_drops_only_the_samples(
    old_schema, tmp_path
):
    assert TABLE not in connection.introspection.table_names()
    disk, source = tmp_path / "disk", tmp_path / "source"
    source.mkdir()
    data = b"a blob from before the upgrade" * 1000
    sha1 = hashlib.sha1(data).hexdigest()
    (source / sha1).write_bytes(data)
    tier = old_schema.get_model("bitstore_app", "Tier")
    tier.objects.create(
        name="disk", kind="filesystem", location=str(disk), role="cache", max_bytes=100_000
    )
    tier.objects.create(
        name="source", kind="filesystem", location=str(source), write_back=True, position=1
    )
    old_schema.get_model("bitstore_app", "LedgerRollup").objects.create(
        minute=MINUTE, tier_name="disk", hits=3
    )

    migrate()
    assert TABLE in connection.introspection.table_names()
    assert bitstore_app.get(sha1) == data
    assert services.sample_cache_levels() == 1
    sample = CacheLevelSample.objects.get()
    assert (sample.tier_name, sample.bytes, sample.blobs) == ("disk", len(data), 1)
    again = {"minute": sample.minute, "tier_name": "disk", "taken_at": timezone.now()}
    with pytest.raises(IntegrityError), transaction.atomic():  # one sample per level and minute
        CacheLevelSample.objects.create(**again, bytes=0, blobs=0, evictions=0)
    now = timezone.now()
    charted = trends.level_trends(now - timedelta(hours=1), now, ["disk"])
    assert [v for v in charted.values["disk"]["bytes"] if v is not None] == [len(data)]

    migrate(BEFORE)
    assert TABLE not in connection.introspection.table_names()
    assert set(tier.objects.values_list("name", flat=True)) == {"disk", "source"}
    migrate()
    assert LedgerRollup.objects.get(minute=MINUTE).hits == 3
    assert Tier.objects.get(name="disk").max_bytes == 100_000
