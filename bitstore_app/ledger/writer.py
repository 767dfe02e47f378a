"""Write a batch of ledger records and add them to the rollups, in one transaction.

On PostgreSQL the records go in with `COPY` and the rollups with one `INSERT ... ON CONFLICT
DO UPDATE` that adds to the counters; elsewhere with `bulk_create` and an update-or-create
per rollup row. Either way a batch is in both or in neither. Before the batch goes in,
the fillers of its cache hits are looked up (fillers.py): the rollups count what they saved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from . import fillers, rollups

#: The ledger entries' keys, in the order the COPY writes them (FetchRecord's columns).
RECORD_FIELDS = (
    "sha1",
    "tier_id",
    "tier_name",
    "outcome",
    "attempts",
    "size",
    "latency_ms",
    "cache_written",
    "written_to",
    "user_id",
    "task_id",
    "created_at",
)

#: What the rollups are summed from, when they are rebuilt from the ledger.
SUMMARIZED = (
    "created_at",
    "size",
    "outcome",
    "latency_ms",
    "cache_written",
    "written_to",
    "tier_name",
    "attempts",
    "sha1",
    "id",
)
#: Records read from the ledger at a time when the rollups are rebuilt.
REBUILD_CHUNK = 20_000
DAY = timedelta(days=1)


def write_batch(batch: Sequence[dict]) -> None:
    """Insert `batch` (ledger entries) into the ledger and its rollups, or nothing on error."""
    from ..models import FetchRecord, Tier

    database = FetchRecord.objects.db
    postgresql = connections[database].vendor == "postgresql"
    with transaction.atomic(using=database):
        tiers = _lock_tiers(database) if postgresql else _tiers(database)
        existing = {tier_id for tier_id, _, _ in tiers}
        caches = [name for _, name, role in tiers if role == Tier.CACHE]
        known = _known_fillers(database, fillers.hits_to_look_up(batch, caches), caches)
        if postgresql:
            _copy_records(database, batch, existing)
        else:
            FetchRecord.objects.using(database).bulk_create(
                [
                    FetchRecord(**(e if e["tier_id"] in existing else e | {"tier_id": None}))
                    for e in batch
                ],
                batch_size=1000,
            )
        filled_by, fills = fillers.attribute(batch, caches, known)
        add_to_rollups(rollups.summarize(batch, caches, filled_by), database)
    fillers.recent.learn(known | fills)


def _known_fillers(database: str, sha1s: set[str], caches: list[str]) -> dict[str, fillers.Filler]:
    """Return the fillers of these blobs this process remembers, and the ledger's of the rest."""
    known, missing = fillers.recent.known(sha1s)
    return known | fillers.in_ledger(database, missing, caches) if missing else known


def _tiers(database: str) -> list[tuple[int, str, str]]:
    from ..models import Tier

    return list(Tier.objects.using(database).values_list("id", "name", "role"))


def _lock_tiers(database: str) -> list[tuple[int, str, str]]:
    """Return the tiers, locked against deletion until the batch commits: what the foreign
    key would check for each record, checked once (FOR KEY SHARE does not block saves)."""
    from ..models import Tier

    table = connections[database].ops.quote_name(Tier._meta.db_table)
    with connections[database].cursor() as cursor:
        cursor.execute(f"SELECT id, name, role FROM {table} FOR KEY SHARE")
        return cursor.fetchall()


def _copy_records(database: str, batch: Sequence[dict], existing: set[int]) -> None:
    from ..models import FetchRecord

    table = connections[database].ops.quote_name(FetchRecord._meta.db_table)
    sql = f"COPY {table} ({', '.join(RECORD_FIELDS)}) FROM STDIN"
    dumps = json.dumps
    with connections[database].cursor() as cursor, cursor.copy(sql) as copy:
        write = copy.write_row
        for e in batch:
            tier_id = e["tier_id"]
            write(
                (
                    e["sha1"],
                    tier_id if tier_id in existing else None,
                    e["tier_name"],
                    e["outcome"],
                    dumps(e["attempts"]),
                    e["size"],
                    e["latency_ms"],
                    e["cache_written"],
                    dumps(e.get("written_to", [])),
                    e["user_id"],
                    e["task_id"],
                    e["created_at"],
                )
            )


def add_to_rollups(counters: rollups.Counters, database: str = "default") -> None:
    """Add `counters` to the rollup rows, creating the rows that do not exist yet."""
    # One order for every writer, so concurrent flushes lock the same rows in the same order.
    keys = sorted(key for key, values in counters.items() if any(values))
    if not keys:
        return
    if connections[database].vendor == "postgresql":
        _upsert(database, keys, counters)
    else:
        for key in keys:
            _update_or_create(database, key, counters[key])


def _upsert(database: str, keys: list, counters: rollups.Counters) -> None:
    from ..models import LedgerRollup

    ops = connections[database].ops
    table = ops.quote_name(LedgerRollup._meta.db_table)
    columns = ("minute", "tier_name", *rollups.COLUMNS)
    adds = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in rollups.COLUMNS)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT (minute, tier_name) DO UPDATE SET {adds}"
    )
    with connections[database].cursor() as cursor:
        cursor.executemany(sql, [(*key, *counters[key]) for key in keys])


def _update_or_create(database: str, key: tuple, values: list[int]) -> None:
    from ..models import LedgerRollup

    minute, tier_name = key
    rows = LedgerRollup.objects.using(database).filter(minute=minute, tier_name=tier_name)
    adds = {c: F(c) + v for c, v in zip(rollups.COLUMNS, values, strict=True) if v}
    if rows.update(**adds):
        return
    try:
        with transaction.atomic(using=database):
            LedgerRollup.objects.using(database).create(
                minute=minute,
                tier_name=tier_name,
                **dict(zip(rollups.COLUMNS, values, strict=True)),
            )
    except IntegrityError:
        # Another process created it in between: add to theirs. No row means the error was
        # something else, and the whole batch must fail rather than lose these counts.
        if not rows.update(**adds):
            raise


def rebuild_rollups(since: datetime | None, until: datetime, step: timedelta = DAY) -> int:
    """Recompute the rollups of every minute from `since` (None: the oldest record) to
    `until`'s (included) from the ledger records, a `step` at a time; return how many
    records were read.

    Each step replaces its minutes' rollups in one transaction that keeps flushes out
    meanwhile (they wait), so running it while the ledger is written counts every record
    once; running it twice gives the same rollups. The records are read in the order they
    were made: each cache hit is counted as saved at the newest fill of its blob before it
    (fillers.py), as flushing counted it.
    """
    from ..models import FetchRecord, LedgerRollup, Tier

    database = FetchRecord.objects.db
    records = FetchRecord.objects.using(database)
    if since is None:
        oldest = records.order_by("created_at").values_list("created_at", flat=True).first()
        if oldest is None:
            return 0
        since = oldest
    start = rollups.minute_of(since)
    until = rollups.minute_of(until) + rollups.ONE_MINUTE
    # Records from before cache levels wrote into the one enabled cache: it comes first.
    caches = Tier.objects.using(database).filter(role=Tier.CACHE).order_by("-enabled", "position")
    cache_names = list(caches.values_list("name", flat=True))
    read = 0
    while start < until:
        end = min(start + step, until)
        with transaction.atomic(using=database):
            _keep_flushes_out(database)
            LedgerRollup.objects.using(database).filter(minute__gte=start, minute__lt=end).delete()
            rows = records.filter(created_at__gte=start, created_at__lt=end).values(*SUMMARIZED)
            counters: rollups.Counters = {}
            chunk: list[dict] = []
            for row in rows.order_by("created_at", "id").iterator(chunk_size=REBUILD_CHUNK):
                chunk.append(row)
                if len(chunk) == REBUILD_CHUNK:
                    rollups.merge(counters, _summarize_read(database, chunk, cache_names))
                    read += len(chunk)
                    chunk = []
            rollups.merge(counters, _summarize_read(database, chunk, cache_names))
            read += len(chunk)
            add_to_rollups(counters, database)
        start = end
    return read


def _summarize_read(database: str, chunk: list[dict], caches: list[str]) -> rollups.Counters:
    """Return the rollups of consecutive ledger records, read in order: their cache hits
    are saved at the fills among them, else at the ledger's newest fill before them."""
    if not chunk:
        return {}
    hits = fillers.hits_to_look_up(chunk, caches)
    first = (chunk[0]["created_at"], chunk[0]["id"])
    known = fillers.in_ledger(database, hits, caches, before=first) if hits else {}
    filled_by, _ = fillers.attribute(chunk, caches, known)
    return rollups.summarize(chunk, caches, filled_by)


def _keep_flushes_out(database: str) -> None:
    """Make flushes that would add to the rollups wait until this transaction ends."""
    from ..models import LedgerRollup

    connection = connections[database]
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(LedgerRollup._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    # SQLite: the first write of the transaction (the delete) takes the database's one
    # write lock; other databases: run it while the ledger is not written.
