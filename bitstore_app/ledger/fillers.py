"""Which source filled the cache levels with a blob, so that each cache hit is counted as
saved at that source (the rollups' `saved_hits` and `saved_bytes`, ledger/rollups.py).

A fill is a ledger entry that wrote its blob into cache levels from a tier that is not a
cache (a write-back source; a promotion from a lower level is not one). A cache hit is an
entry served by a cache tier. Its filler is the newest fill of its blob made no later than
the hit: a filler known only from a later fill does not count, and a hit whose filler is
not known is counted on the rollups' row "" (the report assumes the first write-back
source in order).

The ledger itself names the fills: an index holds its records that wrote into the cache
(models.py), so the newest fill of a blob is one index probe (`in_ledger`). The writer
resolves the fillers of a batch's cache hits from, in turn, the fills earlier in the batch,
this process's memory of recent fillers (`recent`: its own fills and lookups, so a hot
blob costs no query), and one query of the ledger for the rest. The rollups' rebuild reads
the ledger in order and asks the same query for the fills before what it reads. A fill
whose record was pruned is not known any more.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from django.db import connections
from django.db.models import Q

from ..core.per_process import PerProcess

#: A blob's filler: the source's tier name, and when it filled the levels.
Filler = tuple[str, datetime]
#: Blobs whose filler each process remembers (about 300 bytes each: 15 MB).
RECENT_SIZE = 50_000
#: SHA1s per query.
CHUNK = 5_000


def hits_to_look_up(entries: Iterable[dict], caches: Collection[str]) -> set[str]:
    """Return the SHA1s of the cache hits among the entries that no earlier entry filled:
    the blobs whose filler `attribute` needs to know from before the entries."""
    filled: set[str] = set()
    hits: set[str] = set()
    for entry in entries:
        if entry["tier_name"] in caches:
            if entry["outcome"] == "hit" and entry["sha1"] not in filled:
                hits.add(entry["sha1"])
        elif entry["cache_written"]:
            filled.add(entry["sha1"])
    return hits


def attribute(
    entries: Iterable[dict], caches: Collection[str], known: Mapping[str, Filler]
) -> tuple[list[str | None], dict[str, Filler]]:
    """Return, entry by entry in their order, the filler of each cache hit ("" when not known,
    None for the entries that are not cache hits), and the entries' newest fill of each blob.

    `known` holds the fillers from before the entries; the entries' own fills take over as
    they come."""
    fills: dict[str, Filler] = {}
    names: list[str | None] = []
    for entry in entries:
        served = entry["tier_name"]
        if served in caches:
            filler = None
            if entry["outcome"] == "hit":
                sha1 = entry["sha1"]
                filler = fills.get(sha1) or known.get(sha1)
                filler = filler[0] if filler and filler[1] <= entry["created_at"] else ""
            names.append(filler)
        else:
            names.append(None)
            if entry["cache_written"]:
                fills[entry["sha1"]] = (served, entry["created_at"])
    return names, fills


def in_ledger(
    database: str,
    sha1s: Iterable[str],
    caches: Collection[str],
    before: tuple[datetime, int] | None = None,
) -> dict[str, Filler]:
    """Return the newest fill of each of these blobs in the ledger, or among the records that
    come before `before` (a record's creation time and id: the order the rebuild reads in)."""
    from ..models import FetchRecord

    fills = (
        FetchRecord.objects.using(database)
        .filter(cache_written=True)  # the index of fills (models.py) holds these records only
        .exclude(tier_name__in=caches)
        .order_by("sha1", "-created_at", "-id")
    )
    if before is not None:
        at, record_id = before
        fills = fills.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=record_id))
    if connections[database].features.can_distinct_on_fields:
        fills = fills.distinct("sha1")  # the newest of each blob only
    found: dict[str, Filler] = {}
    ordered = sorted(sha1s)
    size = min(CHUNK, (connections[database].features.max_query_params or CHUNK) - len(caches) - 9)
    for start in range(0, len(ordered), size):
        chunk = ordered[start : start + size]
        rows = fills.filter(sha1__in=chunk).values_list("sha1", "tier_name", "created_at")
        for sha1, name, created_at in rows:
            found.setdefault(sha1, (name, created_at))  # the newest comes first
    return found


class RecentFillers:
    """The fillers this process knows of, the newest fill of each blob, at most `RECENT_SIZE`:
    those learnt least recently are forgotten first (the writer learns the fillers of each
    batch's hits again, so a blob hit often stays)."""

    def __init__(self) -> None:
        self._state: PerProcess[tuple[threading.Lock, OrderedDict[str, Filler]]] = PerProcess()

    def _now(self) -> tuple[threading.Lock, OrderedDict[str, Filler]]:
        return self._state.get(lambda: (threading.Lock(), OrderedDict()))

    def known(self, sha1s: Iterable[str]) -> tuple[dict[str, Filler], set[str]]:
        """Return the fillers known of these blobs, and the blobs whose filler is not known."""
        lock, remembered = self._now()
        found, missing = {}, set()
        with lock:
            for sha1 in sha1s:
                filler = remembered.get(sha1)
                if filler is None:
                    missing.add(sha1)
                else:
                    found[sha1] = filler
        return found, missing

    def learn(self, fillers: Mapping[str, Filler]) -> None:
        """Remember `fillers`, where each is newer than the one remembered."""
        lock, remembered = self._now()
        with lock:
            for sha1, filler in fillers.items():
                held = remembered.get(sha1)
                if held is None or held[1] <= filler[1]:
                    remembered[sha1] = filler
                    remembered.move_to_end(sha1)
            for _ in range(len(remembered) - RECENT_SIZE):
                remembered.popitem(last=False)

    def clear(self) -> None:
        """Forget every filler (tests)."""
        self._state.clear()


recent = RecentFillers()
