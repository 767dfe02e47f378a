"""Case 21: the admin statistics page over 30 days of a large ledger on PostgreSQL: the rows
are written by the ledger's own writer (COPY and the rollups), then the page and the query
under it are timed; the child checks that the counts and the savings are exact."""

from __future__ import annotations

from .. import postgres
from ..context import QUICK
from ..report import CaseResult
from ..timing import Stats

TITLE = "statistics page over 10 million ledger rows (PostgreSQL, 30 days)"
NUMBER = 21
SECONDS = 1.0
#: (ledger rows, timed rounds) for a full and a quick run.
FULL = (10_000_000, 5)
SMALL = (5_000, 2)


def run(bench) -> CaseResult:
    reason = postgres.unavailable()
    if reason:
        return CaseResult(NUMBER, TITLE, available=False, notes=[reason])
    rows, rounds = SMALL if bench.sizes == QUICK else FULL
    case = CaseResult(NUMBER, TITLE.replace("10 million", f"{rows:,}"))
    with postgres.database() as url:
        result = postgres.run_child(url, "statistics", rows, rounds, timeout=7200)
    case.add("ledger rows written (COPY + rollups)", Stats.of([result["generated_per_s"]], "rec/s"))
    query = case.add("statistics query, 30 days", Stats.of(result["query_s"], "s"))
    page = case.add("statistics page (admin, HTTP), 30 days", Stats.of(result["page_s"], "s"))
    case.target(f"statistics page < {SECONDS:g} s", page.stats.median, page.stats.max < SECONDS)
    case.notes.append(
        f"{rows:,} rows, {result['rollup_rows']:,} rollup rows; counts and savings checked exact; "
        f"query median {query.stats.median * 1000:.0f} ms"
    )
    return case
