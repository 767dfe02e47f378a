"""Upgrading to savings in the rollups (migration 0012): a database of the previous release
keeps its ledger and rollups; the rollups gain the saved columns (zero until
`bitstore_ledger_rollups` counts the ledger's past) and the ledger an index of its fills,
which the first hits after the upgrade already find; migrating back drops both and nothing
else."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from bitstore_app.costs import spending
from bitstore_app.ledger.writer import write_batch
from bitstore_app.models import FetchRecord, LedgerRollup
from tests.app.schema import migrate, schema_of

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("bitstore_app", "0011_cache_level_samples")]
MINUTE = datetime(2026, 11, 30, 12, 34, tzinfo=UTC)
FILLED, PLANTED = "f" * 40, "e" * 40


@pytest.fixture
def old_schema():
    """Migrate back to the previous release's schema; yield its models; migrate forward."""
    with schema_of(BEFORE) as apps:
        yield apps


def ledger_indexes():
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, FetchRecord._meta.db_table)
    return {name for name, about in found.items() if about["index"]}


def columns(table):
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def old_record(old, sha1, served, at, written=()):
    old.get_model("bitstore_app", "FetchRecord").objects.create(
        sha1=sha1,
        tier_name=served,
        outcome="hit",
        attempts=[{"tier": served, "outcome": "hit", "ms": 1.0}],
        size=100,
        latency_ms=1.0,
        cache_written=bool(written),
        written_to=list(written),
        created_at=at,
    )


def test_the_ledgers_past_is_counted_by_the_rebuild_and_its_fills_found_at_once(old_schema):
    rollup_table = LedgerRollup._meta.db_table
    assert "bitstore_fetch_fills" not in ledger_indexes()
    tier = old_schema.get_model("bitstore_app", "Tier")
    tier.objects.create(name="cache", kind="memory", role="cache")
    tier.objects.create(name="paid", kind="memory", write_back=True, position=1)
    old_record(old_schema, FILLED, "paid", MINUTE, written=["cache"])
    old_record(old_schema, FILLED, "cache", MINUTE + timedelta(minutes=1))
    old_record(old_schema, PLANTED, "cache", MINUTE + timedelta(minutes=2))  # no fill known
    old_schema.get_model("bitstore_app", "LedgerRollup").objects.create(
        minute=MINUTE, tier_name="paid", hits=1
    )

    migrate()
    assert "bitstore_fetch_fills" in ledger_indexes()
    assert {"saved_hits", "saved_bytes"} <= columns(rollup_table)
    row = LedgerRollup.objects.get(minute=MINUTE, tier_name="paid")
    assert (row.hits, row.saved_hits, row.saved_bytes) == (1, 0, 0)  # until rebuilt
    # A hit after the upgrade: its blob's fill, from before it, is found in the ledger.
    later = MINUTE + timedelta(minutes=3)
    write_batch([_hit(FILLED, later)])
    assert LedgerRollup.objects.get(minute=later, tier_name="paid").saved_hits == 1

    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    report = spending.spend_report(MINUTE, later + timedelta(minutes=1), requesters=False)
    paid = next(tier for tier in report.tiers if tier.tier == "paid")
    # Two hits of the blob paid filled, and the planted one: paid is the first write-back.
    assert (paid.saved_hits, paid.saved_bytes) == (3, 300)

    migrate(BEFORE)
    assert "bitstore_fetch_fills" not in ledger_indexes()
    assert not {"saved_hits", "saved_bytes"} & columns(rollup_table)
    assert old_schema.get_model("bitstore_app", "FetchRecord").objects.count() == 4
    hits = old_schema.get_model("bitstore_app", "LedgerRollup").objects.get(
        minute=MINUTE, tier_name="paid"
    )
    assert hits.hits == 1


def _hit(sha1, at):
    return {
        "sha1": sha1,
        "tier_id": None,
        "tier_name": "cache",
        "outcome": "hit",
        "attempts": [{"tier": "cache", "outcome": "hit", "ms": 1.0}],
        "size": 100,
        "latency_ms": 1.0,
        "cache_written": False,
        "written_to": [],
        "user_id": None,
        "task_id": "",
        "created_at": at,
    }
