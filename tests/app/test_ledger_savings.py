"""What the caches saved, counted into the rollups as the ledger is written: each cache hit on
the row of the source that filled the cache levels with its blob (ledger/fillers.py), found
in the batch, in the process's memory or in the ledger; on the row "" when no fill is known.
The rebuild counts the same; the spend report reads the sums and never the ledger."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

import bitstore_app
from bitstore_app import ledger
from bitstore_app.costs import spending
from bitstore_app.ledger import fillers, rollups
from bitstore_app.ledger.writer import write_batch
from bitstore_app.models import FetchRecord, LedgerRollup, Tier
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db

MINUTE = datetime(2026, 11, 30, 12, 34, tzinfo=UTC)
LEDGER = FetchRecord._meta.db_table


@pytest.fixture
def levels(tmp_path):
    """Two cache levels, then two write-back sources on disk: `first-paid` (the fallback
    when no fill is known) and `paid`; returns the folders by tier name."""
    folders = {}
    for position, (name, fields) in enumerate(
        [
            ("top", {"role": Tier.CACHE}),
            ("bottom", {"role": Tier.CACHE}),
            ("first-paid", {"write_back": True}),
            ("paid", {"write_back": True}),
        ]
    ):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        Tier.objects.create(
            name=name,
            kind="filesystem",
            location=str(folders[name]),
            position=position,
            **fields,
        )
    return folders


def saved():
    """Return {tier name: (saved hits, saved bytes)} summed over every rollup row."""
    totals = {}
    for row in LedgerRollup.objects.values("tier_name", "saved_hits", "saved_bytes"):
        hits, size = totals.get(row["tier_name"], (0, 0))
        totals[row["tier_name"]] = (hits + row["saved_hits"], size + row["saved_bytes"])
    return {name: value for name, value in totals.items() if value != (0, 0)}


def entry(sha1, served, *, at, written=(), size=10, outcome="hit"):
    """A ledger entry as the buffer holds it: served by `served`, written into `written`."""
    return {
        "sha1": sha1,
        "tier_id": None,
        "tier_name": served,
        "outcome": outcome,
        "attempts": [{"tier": served or "top", "outcome": outcome, "ms": 1.0}],
        "size": size,
        "latency_ms": 1.0,
        "cache_written": bool(written),
        "written_to": list(written),
        "user_id": None,
        "task_id": "",
        "created_at": at,
    }


def fill(sha1, source, at, size=10):
    return entry(sha1, source, at=at, written=["top", "bottom"], size=size)


def test_hits_in_later_flushes_are_saved_at_the_source_that_filled_the_levels(levels):
    sha1, data = make_blob()
    (levels["paid"] / sha1).write_bytes(data)
    assert bitstore_app.get(sha1) == data  # from paid, into both levels
    ledger.buffer.flush()
    for _ in range(2):  # two more flushes of two hits each at the top level
        bitstore_app.get(sha1)
        bitstore_app.get(sha1)
        ledger.buffer.flush()
    assert saved() == {"paid": (4, 4 * len(data))}


def test_a_hit_in_the_same_batch_as_its_fill_and_in_the_next_batch(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", MINUTE), entry(sha1, "top", at=MINUTE)])
    write_batch([entry(sha1, "bottom", at=MINUTE + timedelta(minutes=1))])
    assert saved() == {"paid": (2, 20)}
    rows = LedgerRollup.objects.filter(tier_name="paid").order_by("minute")
    assert [row.saved_hits for row in rows] == [1, 1]  # on the minute of each hit


def test_a_filler_this_process_remembers_costs_no_query_and_the_ledger_knows_the_rest(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", MINUTE)])
    with CaptureQueriesContext(connection) as remembered:
        write_batch([entry(sha1, "top", at=MINUTE + timedelta(seconds=1))])
    fillers.recent.clear()  # as a process that did not fill the blob: the ledger is asked
    with CaptureQueriesContext(connection) as looked_up:
        write_batch([entry(sha1, "top", at=MINUTE + timedelta(seconds=2))])
    assert saved() == {"paid": (2, 20)}

    def fill_lookups(queries):
        return [q for q in queries if q["sql"].startswith("SELECT") and LEDGER in q["sql"]]

    assert fill_lookups(remembered.captured_queries) == []
    assert len(fill_lookups(looked_up.captured_queries)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_blob_another_process_filled_is_saved_at_its_source(levels, second_process):
    sha1, data = make_blob()
    (levels["paid"] / sha1).write_bytes(data)
    process = second_process("get", sha1, "1", "0")  # fills both levels from paid, then exits
    assert process.wait(60) == 0, process.stderr.read()
    assert FetchRecord.objects.get().written_to == ["top", "bottom"]
    assert bitstore_app.get(sha1) == data  # here, a hit at the top level
    ledger.buffer.flush()
    assert saved() == {"paid": (1, len(data))}  # not first-paid: the fill named paid


def test_a_hit_whose_filler_is_not_known_is_saved_at_the_first_write_back_source(levels):
    sha1, data = make_blob()
    (levels["top"] / sha1).write_bytes(data)  # planted: no fill in the ledger
    assert bitstore_app.get(sha1) == data
    ledger.buffer.flush()
    assert saved() == {rollups.ALL_FETCHES: (1, len(data))}
    report = spending.spend_report(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    tiers = {tier.tier: tier for tier in report.tiers}
    assert (tiers["first-paid"].saved_hits, tiers["paid"].saved_hits) == (1, 0)


def test_a_fill_made_after_the_hit_does_not_count_for_it(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", MINUTE + timedelta(seconds=5))])  # another process, later
    fillers.recent.clear()
    write_batch([entry(sha1, "top", at=MINUTE)])
    assert saved() == {rollups.ALL_FETCHES: (1, 10)}


def test_a_fill_pruned_from_the_ledger_is_not_known_any_more(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", datetime.now(UTC) - timedelta(days=40))])
    call_command("bitstore_ledger_prune", "--older-than", "30", stdout=io.StringIO())
    fillers.recent.clear()  # a process that did not fill it, or has forgotten
    write_batch([entry(sha1, "top", at=datetime.now(UTC))])
    assert saved() == {rollups.ALL_FETCHES: (1, 10)}


def test_a_promotion_is_not_a_fill(levels):
    sha1 = make_blob()[0]
    write_batch(
        [
            fill(sha1, "paid", MINUTE),
            # From the bottom level into the top: a hit of the bottom level, and a write.
            entry(sha1, "bottom", at=MINUTE + timedelta(seconds=1), written=["top"]),
        ]
    )
    fillers.recent.clear()
    write_batch([entry(sha1, "top", at=MINUTE + timedelta(seconds=2))])
    assert saved() == {"paid": (2, 20)}


def test_a_refill_by_another_process_is_seen_by_the_rebuild_not_by_the_memory(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", MINUTE)])  # remembered by this process
    # Evicted, then refilled from first-paid by another process, whose batch is written.
    FetchRecord.objects.create(**fill(sha1, "first-paid", MINUTE + timedelta(seconds=1)))
    write_batch([entry(sha1, "top", at=MINUTE + timedelta(seconds=2))])
    assert saved() == {"paid": (1, 10)}  # this process's memory: a flush behind
    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    assert saved() == {"first-paid": (1, 10)}  # the ledger's order


def test_the_process_remembers_a_bounded_number_of_fillers_the_newest_fill_of_each(monkeypatch):
    monkeypatch.setattr(fillers, "RECENT_SIZE", 3)
    sha1s = [f"{n:040x}" for n in range(5)]
    fillers.recent.learn({sha1: ("paid", MINUTE) for sha1 in sha1s})
    fillers.recent.learn({sha1s[3]: ("other", MINUTE - timedelta(days=1))})  # older: ignored
    fillers.recent.learn({sha1s[4]: ("cheap", MINUTE + timedelta(days=1))})
    known, missing = fillers.recent.known(sha1s)
    assert {sha1s.index(sha1): name for sha1, (name, _) in known.items()} == {
        2: "paid",
        3: "paid",
        4: "cheap",
    }
    assert missing == set(sha1s[:2])  # the first learnt, forgotten


def month_of_fills_and_hits(blobs=12):
    """Write a month of fills, hits (some before any fill), promotions and refills from
    another source, in batches; return the rollups the flushes made."""
    Tier.objects.create(name="top", kind="memory", role=Tier.CACHE)
    Tier.objects.create(name="bottom", kind="memory", role=Tier.CACHE, position=1)
    entries = []
    for number in range(blobs):
        sha1 = f"{number:040x}"
        at = MINUTE - timedelta(days=30) + timedelta(days=2 * number, seconds=number)
        entries.append(entry(sha1, "top", at=at, size=number))  # planted: no fill yet
        entries.append(fill(sha1, "paid", at + timedelta(hours=1), size=number))
        for day in range(3):
            entries.append(entry(sha1, "top", at=at + timedelta(days=day, hours=2), size=number))
        entries.append(
            entry(sha1, "bottom", at=at + timedelta(days=1, hours=5), written=["top"], size=number)
        )
        entries.append(fill(sha1, "cheap", at + timedelta(days=3), size=number))
        entries.append(entry(sha1, "top", at=at + timedelta(days=4), size=number))
    entries.sort(key=lambda e: e["created_at"])
    for start in range(0, len(entries), 7):
        write_batch(entries[start : start + 7])
    return {
        (row.pop("minute"), row.pop("tier_name")): row
        for row in LedgerRollup.objects.values("minute", "tier_name", *rollups.COLUMNS)
    }


def test_the_rebuild_counts_the_savings_flushing_counted_and_again_the_same():
    flushed = month_of_fills_and_hits()
    assert saved()[rollups.ALL_FETCHES][0] == 12  # each blob's first hit
    assert saved()["paid"][0] == 12 * 4 and saved()["cheap"][0] == 12
    LedgerRollup.objects.all().delete()
    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    rebuilt = {
        (row.pop("minute"), row.pop("tier_name")): row
        for row in LedgerRollup.objects.values("minute", "tier_name", *rollups.COLUMNS)
    }
    assert rebuilt == flushed
    call_command("bitstore_ledger_rollups", stdout=io.StringIO())
    assert LedgerRollup.objects.count() == len(flushed)
    assert saved()["paid"][0] == 12 * 4


def test_the_rebuild_of_the_last_days_finds_fills_from_before_them(monkeypatch):
    now = MINUTE + timedelta(minutes=1)
    month_of_fills_and_hits()
    last_days = {
        (row.minute, row.tier_name): (row.saved_hits, row.saved_bytes)
        for row in LedgerRollup.objects.filter(minute__gte=now - timedelta(days=5))
    }
    LedgerRollup.objects.all().delete()
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    call_command("bitstore_ledger_rollups", "--days", "5", stdout=io.StringIO())
    rebuilt = {
        (row.minute, row.tier_name): (row.saved_hits, row.saved_bytes)
        for row in LedgerRollup.objects.all()
    }
    # The window's one hit: of a blob refilled by `cheap` just before the window.
    assert rebuilt == last_days and saved() == {"cheap": (1, 11)}


def test_the_spend_report_reads_the_rollups_not_the_ledger(levels):
    sha1 = make_blob()[0]
    write_batch([fill(sha1, "paid", MINUTE)] + [entry(sha1, "top", at=MINUTE)] * 3)
    with CaptureQueriesContext(connection) as queries:
        report = spending.spend_report(MINUTE - timedelta(hours=1), MINUTE + timedelta(hours=1))
    tiers = {tier.tier: tier for tier in report.tiers}
    assert (tiers["paid"].saved_hits, tiers["paid"].saved_bytes) == (3, 30)
    ledger_queries = [q["sql"] for q in queries.captured_queries if LEDGER in q["sql"]]
    assert len(ledger_queries) == 1 and "LIMIT" in ledger_queries[0]  # the requesters' sample
