"""Case 20: the ledger on PostgreSQL: sustained ledger writes (COPY and the rollups, by the
background thread, as deployed) against the old `bulk_create`, and 16 threads of filesystem-
cache hits with the ledger on against off. Each measurement runs in a child process
(`bench.cases.ledger_child`) on a database of its own."""

from __future__ import annotations

from .. import postgres
from ..context import QUICK
from ..report import CaseResult
from ..timing import Stats

TITLE = "ledger on PostgreSQL: records/s, and get with the ledger on vs off"
NUMBER = 20
RECORDS_PER_S = 50_000
ON_OFF = 0.95
#: (records per round, rounds; blobs, gets per round, rounds) for a full and a quick run.
FULL = (200_000, 3, 1000, 48_000, 5)
SMALL = (2_000, 1, 20, 320, 1)


def run(bench) -> CaseResult:
    case = CaseResult(NUMBER, TITLE)
    reason = postgres.unavailable()
    if reason:
        return CaseResult(NUMBER, TITLE, available=False, notes=[reason])
    records, rounds, blobs, calls, get_rounds = SMALL if bench.sizes == QUICK else FULL
    with postgres.database() as url:
        writes = postgres.run_child(url, "writes", records, rounds)
        folder = bench.folder / "ledger-gets"
        gets = postgres.run_child(url, "gets", folder, blobs, calls, get_rounds)
    old = case.add("ledger writes, bulk_create (before)", Stats.of(writes["bulk_create"], "rec/s"))
    new = case.add(
        "ledger writes, COPY + rollups, background thread", Stats.of(writes["sustained"], "rec/s")
    )
    new.ratio = new.stats.median / old.stats.median
    new.baseline = old.label
    off = case.add(
        "16-thread get, filesystem-cache hit, ledger off", Stats.of(gets["off"], "get/s")
    )
    on = case.add("16-thread get, filesystem-cache hit, ledger on", Stats.of(gets["on"], "get/s"))
    on.ratio, on.baseline = on.stats.median / off.stats.median, off.label
    case.target(
        f"sustained ledger writes >= {RECORDS_PER_S:,} records/s",
        new.stats.median,
        new.stats.median >= RECORDS_PER_S,
    )
    case.target(f"get with the ledger on >= {ON_OFF}x off", on.ratio, on.ratio >= ON_OFF)
    case.notes.append(
        f"{records:,} records a round, 3 attempts each; {gets['recorded']:,} gets recorded"
    )
    return case
