"""The ledger's rollups: per tier and per minute, counts by outcome and skip reason, bytes,
and a latency histogram, summed from the records as they are flushed.

The statistics page (and the cost reports) read these instead of the ledger: a month is a
few thousand rows per tier however many fetches it held. One row per tier per minute, plus
one row per minute under the tier name "" for whole fetches (a fetch's outcome, size and
total latency). What the caches saved is counted on the row of the source that filled the
cache levels with the blob of each cache hit (ledger/fillers.py names it), or on the row ""
when the filler is not known. The histogram has fixed buckets, one column each, so a
window's histogram is a plain SUM on every database.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import zip_longest

from ..core.outcomes import Outcome, SkipReason, attempt_outcome

#: Upper bounds of the latency buckets, in milliseconds; a last bucket holds what is slower.
LATENCY_BOUNDS_MS = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000,
)  # fmt: skip
#: Skip reasons counted in their own column (a new reason needs a migration: its column);
#: any other reason, or none, counts as "other".
SKIP_REASONS = tuple(reason.value for reason in SkipReason)
ONE_MINUTE = timedelta(minutes=1)


def minute_of(moment: datetime) -> datetime:
    """Return the start of the minute `moment` falls in: the rollups' and samples' key."""
    return moment.replace(second=0, microsecond=0)


#: The rollup row of whole fetches (every other row is one tier's attempts).
ALL_FETCHES = ""


def _bound_label(bound: float) -> str:
    return f"{bound:g}".replace(".", "_")


OUTCOME_COLUMNS = ("hits", "misses", "errors", "invalid")
SKIP_COLUMNS = tuple(f"skipped_{reason}" for reason in SKIP_REASONS) + ("skipped_other",)
BYTE_COLUMNS = ("bytes_read", "bytes_written")
#: Blobs written into a cache level from a lower level (counted on the level written).
LEVEL_COLUMNS = ("promotions",)
#: Cache hits, and their bytes, of the blobs a source filled the cache levels with (counted
#: on that source's row; on the row "" when the filler is not known).
SAVING_COLUMNS = ("saved_hits", "saved_bytes")
LATENCY_COLUMNS = tuple(f"ms_le_{_bound_label(b)}" for b in LATENCY_BOUNDS_MS) + (
    f"ms_gt_{_bound_label(LATENCY_BOUNDS_MS[-1])}",
)
#: Every counter column of a rollup row, in the order of `Counters` lists.
COLUMNS = (
    OUTCOME_COLUMNS + SKIP_COLUMNS + BYTE_COLUMNS + LEVEL_COLUMNS + SAVING_COLUMNS + LATENCY_COLUMNS
)

_INDEX = {name: position for position, name in enumerate(COLUMNS)}
#: Attempt and fetch outcomes (old and new spellings) to the column that counts them.
_OUTCOME_INDEX = {
    "hit": _INDEX["hits"],
    "not_found": _INDEX["misses"],
    "unavailable": _INDEX["errors"],
    "error": _INDEX["errors"],
    "invalid": _INDEX["invalid"],
}
_SKIP_INDEX = {reason: _INDEX[f"skipped_{reason}"] for reason in SKIP_REASONS}
_SKIPPED_OTHER = _INDEX["skipped_other"]
#: Attempt outcomes counted as they are, without reading the attempt further.
_PLAIN = {"hit", "not_found"}
_BYTES_READ, _BYTES_WRITTEN = _INDEX["bytes_read"], _INDEX["bytes_written"]
_PROMOTIONS = _INDEX["promotions"]
_SAVED_HITS, _SAVED_BYTES = _INDEX["saved_hits"], _INDEX["saved_bytes"]
_FIRST_BUCKET = _INDEX[LATENCY_COLUMNS[0]]

#: (minute, tier name) -> counters in `COLUMNS` order.
Counters = dict[tuple[datetime, str], list[int]]


def bucket_of(ms: float) -> int:
    """Return the index of the latency bucket that holds `ms` (bounds are inclusive)."""
    return bisect_left(LATENCY_BOUNDS_MS, ms)


def bucket_range(index: int) -> tuple[float, float]:
    """Return the lower and upper bound of bucket `index`, in ms (the last has no upper)."""
    low = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
    high = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else math.inf
    return float(low), float(high)


def summarize(
    entries: Iterable[dict], caches: Sequence[str] = (), fillers: Iterable[str | None] = ()
) -> Counters:
    """Return the rollup counters of ledger entries (the dicts the ledger buffers).

    A tier's bytes read are the sizes it served; bytes written are the sizes written into
    each cache level (the entry's `written_to`), counted on that level and once on whole
    fetches. A blob written into a level while another level (one of `caches`, the cache
    tiers' names) served it is a promotion of that level. A record from before cache
    levels has no `written_to`: its write went into `caches[0]`, the one cache then.
    `fillers` names, entry by entry, the source that filled the levels with a cache hit's
    blob ("" when not known; None for the entries that are not cache hits: see
    fillers.attribute): the hit and its bytes are counted as saved on that source's row.
    """
    caches = list(caches)
    counters: Counters = {}
    width = len(COLUMNS)
    minute = end = None
    for entry, filler in zip_longest(entries, fillers):
        created = entry["created_at"]
        if minute is None or not minute <= created < end:  # replace() costs a microsecond
            minute = minute_of(created)
            end = minute + ONE_MINUTE
        size = entry["size"]
        row = counters.get((minute, ALL_FETCHES))
        if row is None:
            row = counters[(minute, ALL_FETCHES)] = [0] * width
        _count(row, entry["outcome"], entry["latency_ms"])
        if entry["outcome"] == "hit":
            row[_BYTES_READ] += size
        served = entry["tier_name"]
        if entry["cache_written"]:
            row[_BYTES_WRITTEN] += size
            written = entry.get("written_to") or caches[:1]
            promoted = served in caches
            row[_PROMOTIONS] += promoted
            for level in written:
                level_row = _row(counters, minute, level[:100], width)
                level_row[_BYTES_WRITTEN] += size
                level_row[_PROMOTIONS] += promoted
        for attempt in entry["attempts"] or ():
            name = attempt.get("tier", "?")[:100]  # the column's length, like tier names
            row = _row(counters, minute, name, width)
            outcome = attempt.get("outcome", "")
            if outcome not in _PLAIN:  # read as every release wrote it (an old open circuit)
                outcome, reason = attempt_outcome(attempt)
                if outcome == Outcome.SKIPPED:
                    row[_SKIP_INDEX.get(reason, _SKIPPED_OTHER)] += 1
                    continue
            _count(row, outcome, attempt.get("ms", 0.0))
            if outcome == "hit" and name == served:
                row[_BYTES_READ] += size
        if filler is not None:
            row = _row(counters, minute, filler[:100], width)
            row[_SAVED_HITS] += 1
            row[_SAVED_BYTES] += size
    return counters


def _row(counters: Counters, minute: datetime, name: str, width: int) -> list[int]:
    row = counters.get((minute, name))
    if row is None:
        row = counters[(minute, name)] = [0] * width
    return row


def _count(row: list[int], outcome: str, ms: float) -> None:
    index = _OUTCOME_INDEX.get(outcome)
    if index is None:  # an outcome this version does not know: not counted, like before
        return
    row[index] += 1
    row[_FIRST_BUCKET + bisect_left(LATENCY_BOUNDS_MS, ms)] += 1


def merge(into: Counters, more: Counters) -> Counters:
    """Add `more` into `into` and return it."""
    for key, values in more.items():
        row = into.get(key)
        if row is None:
            into[key] = list(values)
        else:
            for position, value in enumerate(values):
                row[position] += value
    return into


@dataclass
class Histogram:
    """A latency histogram in the fixed buckets; percentiles are exact to one bucket."""

    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)

    def percentile(self, fraction: float) -> float | None:
        """Return the `fraction` percentile the way percentile_cont does, each answer taken
        at its place inside its bucket: it lies in the bucket of the answers either side."""
        total = self.total
        if not total:
            return None
        rank = fraction * (total - 1)
        low, high = math.floor(rank), math.ceil(rank)
        below, above = self._estimate(low), self._estimate(high)
        return below + (above - below) * (rank - low)

    def _estimate(self, position: int) -> float:
        """Return where the answer at `position` (from 0, in order) sits in its bucket."""
        before = 0
        for index, count in enumerate(self.counts):
            if position < before + count:
                low, high = bucket_range(index)
                if high == math.inf:  # slower than the last bound: that bound is all we know
                    return low
                return low + (high - low) * (position - before + 0.5) / count
            before += count
        raise IndexError(position)


def latency_counts(values: dict[str, int | None]) -> list[int]:
    """Return the histogram counts found in a row of summed columns (None counts as 0)."""
    return [values.get(column) or 0 for column in LATENCY_COLUMNS]
