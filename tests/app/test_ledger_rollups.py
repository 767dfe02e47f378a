"""The ledger's rollups: summed per tier and minute in the flush's transaction, rebuilt from
the ledger by a command, on SQLite and PostgreSQL (CI)."""

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import bitstore_app
from bitstore_app import ledger
from bitstore_app.core import NotFoundInStore
from bitstore_app.ledger import rollups
from bitstore_app.ledger.writer import write_batch
from bitstore_app.models import FetchRecord, LedgerRollup, Tier
from tests.app import sources
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db

MINUTE = datetime(2026, 11, 30, 12, 34, tzinfo=UTC)


@pytest.fixture
def tiers(tmp_path):
    """A cache on disk, then a source whose blobs are written back into it."""
    collection = f"rollups-{time.monotonic_ns()}"
    sources.COLLECTIONS[collection] = {}
    (tmp_path / "cache").mkdir()
    Tier.objects.create(
        name="cache", kind="filesystem", location=str(tmp_path / "cache"), role=Tier.CACHE
    )
    Tier.objects.create(
        name="source",
        kind="tests.app.sources.DictSource",
        options={"collection": collection},
        position=1,
        write_back=True,
    )
    return sources.COLLECTIONS[collection]


def rollup_rows():
    """Return {(minute, tier name): {column: value}} of every rollup row, zeros left out."""
    rows = LedgerRollup.objects.values("minute", "tier_name", *rollups.COLUMNS)
    return {
        (row.pop("minute"), row.pop("tier_name")): {k: v for k, v in row.items() if v}
        for row in rows
    }


def entry(attempts, *, outcome="hit", served="", size=0, at=MINUTE, written=False, ms=1.0):
    """A ledger entry as the buffer holds it; attempts are (tier, outcome, ms[, reason])."""
    return {
        "sha1": make_blob()[0],
        "tier_id": None,
        "tier_name": served,
        "outcome": outcome,
        "attempts": [
            {"tier": a[0], "outcome": a[1], "ms": a[2]} | ({"reason": a[3]} if a[3:] else {})
            for a in attempts
        ],
        "size": size,
        "latency_ms": ms,
        "cache_written": written,
        "user_id": None,
        "task_id": "",
        "created_at": at,
    }


def test_fetches_are_summed_per_tier_and_minute_as_they_are_flushed(tiers):
    sha1, data = make_blob()
    tiers[sha1] = data
    bitstore_app.get(sha1)  # the cache misses, the source serves, the cache is written
    bitstore_app.get(sha1)  # the cache serves
    with pytest.raises(NotFoundInStore):
        bitstore_app.get(make_blob()[0])
    ledger.buffer.flush()
    rows = rollup_rows()
    assert {tier for _, tier in rows} == {"", "cache", "source"}
    assert len({minute for minute, _ in rows}) in (1, 2)  # the minute may turn meanwhile
    totals = {}
    for (_, tier), values in rows.items():
        for column, value in values.items():
            totals.setdefault(tier, {}).setdefault(column, 0)
            totals[tier][column] += value
    size = len(data)
    latency = set(rollups.LATENCY_COLUMNS)
    assert {k: v for k, v in totals["cache"].items() if k not in latency} == {
        "hits": 1,
        "misses": 2,
        "bytes_read": size,
        "bytes_written": size,
    }
    assert {k: v for k, v in totals["source"].items() if k not in latency} == {
        "hits": 1,
        "misses": 1,
        "bytes_read": size,
        "saved_hits": 1,  # the cache's hit, of the blob the source filled it with
        "saved_bytes": size,
    }
    assert {k: v for k, v in totals[""].items() if k not in latency} == {
        "hits": 2,
        "misses": 1,
        "bytes_read": 2 * size,
        "bytes_written": size,
    }
    # Every answer lands in one latency bucket.
    for tier, answers in [("cache", 3), ("source", 2), ("", 3)]:
        assert sum(totals[tier].get(column, 0) for column in latency) == answers


def test_skipped_tiers_are_counted_by_reason_and_not_timed():
    write_batch(
        [
            entry([("s3", "skipped", 0.0, "circuit_open"), ("gcs", "hit", 30)], served="gcs"),
            entry(
                [("s3", "skipped", 0.0, "rate_limited"), ("gcs", "not_found", 8)],
                outcome="not_found",
            ),
            # Rows written before skip reasons existed, and a reason this version does not know.
            entry([("s3", "skipped", 0.0)], outcome="not_found"),
            entry([("s3", "skipped", 0.0, "a-new-reason")], outcome="not_found"),
            entry([("s3", "unavailable", 1500), ("gcs", "invalid", 3)], outcome="error"),
        ]
    )
    rows = rollup_rows()
    assert rows[(MINUTE, "s3")] == {
        "skipped_circuit_open": 1,
        "skipped_rate_limited": 1,
        "skipped_other": 2,
        "errors": 1,
        "ms_le_2000": 1,
    }
    assert rows[(MINUTE, "gcs")] == {
        "hits": 1,
        "misses": 1,
        "invalid": 1,
        "ms_le_50": 1,
        "ms_le_10": 1,
        "ms_le_5": 1,
    }
    assert rows[(MINUTE, "")] == {"hits": 1, "misses": 3, "errors": 1, "ms_le_1": 5}


def test_later_batches_add_to_the_rows_of_their_minute():
    write_batch([entry([("disk", "hit", 0.05)], served="disk", size=10)])
    write_batch([entry([("disk", "hit", 0.05)], served="disk", size=5)] * 3)
    write_batch(
        [entry([("disk", "not_found", 0.3)], outcome="not_found", at=MINUTE.replace(minute=35))]
    )
    rows = rollup_rows()
    assert rows[(MINUTE, "disk")] == {"hits": 4, "bytes_read": 25, "ms_le_0_1": 4}
    assert rows[(MINUTE.replace(minute=35), "disk")] == {"misses": 1, "ms_le_0_5": 1}
    assert LedgerRollup.objects.count() == 4


@pytest.fixture
def failing_rollups():
    """A trigger that makes every new rollup row fail, a real database error mid-flush;
    returns the function that ends the fault."""
    table = LedgerRollup._meta.db_table
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(
                "CREATE FUNCTION bitstore_test_refuse() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'rollups refused by the test'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER bitstore_test_refuse BEFORE INSERT ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION bitstore_test_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER bitstore_test_refuse BEFORE INSERT ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'rollups refused by the test'); END"
            )

    def heal():
        with connection.cursor() as cursor:
            if postgresql:
                cursor.execute(f"DROP TRIGGER IF EXISTS bitstore_test_refuse ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS bitstore_test_refuse()")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS bitstore_test_refuse")

    yield heal
    heal()


@pytest.mark.django_db(transaction=True)  # a failed flush closes a connection in a transaction
def test_a_batch_lands_in_the_ledger_and_the_rollups_or_in_neither(tiers, failing_rollups):
    hashes = [make_blob()[0] for _ in range(3)]
    for sha1 in hashes:
        with pytest.raises(NotFoundInStore):
            bitstore_app.get(sha1)
    assert ledger.buffer.flush() == 0
    assert (FetchRecord.objects.count(), len(ledger.buffer)) == (0, 3)  # kept for later
    failing_rollups()  # the fault ends: the next flush writes both
    assert ledger.buffer.flush() == 3
    assert FetchRecord.objects.count() == 3
    assert sum(LedgerRollup.objects.filter(tier_name="").values_list("misses", flat=True)) == 3


def written_rollups():
    """Write a month of hand-made entries; return the rollups the flushes made."""
    entries = [
        entry(
            [("cache", "not_found", 0.2), ("s3", "hit", 40 + n)],
            served="s3",
            size=100 + n,
            written=n % 2 == 0,
            at=MINUTE - timedelta(hours=7 * n, seconds=n),
            ms=41 + n,
        )
        for n in range(100)
    ]
    Tier.objects.create(name="cache", kind="filesystem", location="/tmp", role=Tier.CACHE)
    for start in range(0, 100, 30):
        write_batch(entries[start : start + 30])
    return rollup_rows()


def test_the_command_rebuilds_the_rollups_from_the_ledger_and_again_the_same():
    flushed = written_rollups()
    LedgerRollup.objects.all().delete()
    call_command("bitstore_ledger_rollups", stdout=(out := io.StringIO()))
    assert "Rebuilt the rollups of every ledger record: 100 records." in out.getvalue()
    assert rollup_rows() == flushed
    call_command("bitstore_ledger_rollups", verbosity=0, stdout=out)
    assert rollup_rows() == flushed


def test_the_command_can_rebuild_only_the_last_days(monkeypatch):
    flushed = written_rollups()
    LedgerRollup.objects.all().delete()
    monkeypatch.setattr("django.utils.timezone.now", lambda: MINUTE + timedelta(minutes=1))
    call_command("bitstore_ledger_rollups", "--days", "3", stdout=io.StringIO())
    recent = {key: value for key, value in flushed.items() if key[0] >= MINUTE - timedelta(days=3)}
    assert rollup_rows() == recent and 0 < len(recent) < len(flushed)


def test_the_command_refuses_a_window_that_is_not_positive():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days must be a positive number of days"):
        call_command("bitstore_ledger_rollups", "--days", "0")


@pytest.mark.django_db(transaction=True)
def test_records_from_before_the_rollups_still_read_and_are_rebuilt():
    executor = MigrationExecutor(connection)
    before = [("bitstore_app", "0005_tier_kind_help")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    tier = old.get_model("bitstore_app", "Tier").objects.create(
        name="disk", kind="filesystem", location="/tmp"
    )
    old.get_model("bitstore_app", "FetchRecord").objects.create(
        sha1="a" * 40,
        tier=tier,
        tier_name="disk",
        outcome="hit",
        attempts=[{"tier": "disk", "outcome": "hit", "ms": 3.0}],
        size=7,
        latency_ms=3.0,
        created_at=MINUTE,
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    record = FetchRecord.objects.get()
    assert (record.tier.name, record.attempts[0]["ms"], record.size) == ("disk", 3.0, 7)
    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    assert rollup_rows()[(MINUTE, "disk")] == {"hits": 1, "bytes_read": 7, "ms_le_5": 1}


def test_pruning_the_ledger_keeps_the_rollups():
    flushed = written_rollups()
    call_command("bitstore_ledger_prune", "--older-than", "0", stdout=io.StringIO())
    assert FetchRecord.objects.count() == 0
    assert rollup_rows() == flushed


@pytest.mark.django_db(transaction=True)
def test_a_flush_waits_while_the_rollups_are_rebuilt():
    """The rebuild's lock on PostgreSQL (SQLite has one writer at a time by itself)."""
    if connection.vendor != "postgresql":
        pytest.skip("the rebuild takes a table lock on PostgreSQL; SQLite serializes writers")
    import threading

    from django.db import connections, transaction

    from bitstore_app.ledger.writer import _keep_flushes_out

    locked, release, flushed = threading.Event(), threading.Event(), threading.Event()

    def rebuild():
        with transaction.atomic():
            _keep_flushes_out("default")
            locked.set()
            release.wait(10)
        connections.close_all()

    def flush():
        write_batch([entry([("disk", "hit", 1.0)], served="disk")])
        flushed.set()
        connections.close_all()

    holder = threading.Thread(target=rebuild)
    holder.start()
    assert locked.wait(10)
    writer = threading.Thread(target=flush)
    writer.start()
    assert not flushed.wait(0.5)  # kept out while the rebuild holds its transaction
    release.set()
    assert flushed.wait(10)
    holder.join(10)
    writer.join(10)
    assert rollup_rows()[(MINUTE, "disk")]["hits"] == 1
