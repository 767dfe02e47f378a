"""Write a batch of ledger records and add them to the rollups, in one transaction.

On PostgreSQL the records go in with `COPY` and the rollups with one `INSERT ... ON CONFLICT
DO UPDATE` that adds to the counters; elsewhere with `bulk_create` and an update-or-create
per rollup row. Either way a batch is in both or in neither.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from . import rollups

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
    "user_id",
    "task_id",
    "created_at",
)


def write_batch(batch: Sequence[dict]) -> None:
    """Insert `batch` (ledger entries) into the ledger and its rollups, or nothing on error."""
    from .models import FetchRecord, Tier

    database = FetchRecord.objects.db
    tiers = list(Tier.objects.using(database).values_list("id", "name", "role"))
    existing = {tier_id for tier_id, _, _ in tiers}
    cache = next((name for _, name, role in tiers if role == Tier.CACHE), None)
    counters = rollups.summarize(batch, cache)
    postgresql = connections[database].vendor == "postgresql"
    with transaction.atomic(using=database):
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
        add_to_rollups(counters, database)


def _copy_records(database: str, batch: Sequence[dict], existing: set[int]) -> None:
    from .models import FetchRecord

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
    from .models import LedgerRollup

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
    from .models import LedgerRollup

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
    except IntegrityError:  # another process created it in between: add to theirs
        rows.update(**adds)
