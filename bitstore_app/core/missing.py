"""Which of many blobs no tier holds: existence checks only, in parallel, tier after tier.

In the spirit of REAPI's FindMissingBlobs: each tier is asked (with `exists`, never a
download) only about the blobs every earlier tier lacked, so a blob costs one request at the
first tier that has it. Write-back sources, the paid ones, are asked only when the caller
says so: without them, "missing" means "not in the free tiers".
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat

from .composite import Composite
from .exceptions import StoreNotAvailable
from .store import Store


@dataclass
class MissingReport:
    """The answer of `find_missing`: what no tier holds, and what it took to find out."""

    missing: list[str]
    #: Existence checks sent to each tier, by tier name.
    requests: dict[str, int] = field(default_factory=dict)
    #: Blobs that a tier could not be asked about, and that no other tier asked holds.
    undecided: dict[str, list[str]] = field(default_factory=dict)


def find_missing(
    composite: Composite, keys: Iterable[str], include_paid: bool = False, workers: int = 16
) -> MissingReport:
    """Return which of `keys` (already normalized) no tier of `composite` holds, in input
    order without repeats; write-back sources are asked only with `include_paid`."""
    pending = list(dict.fromkeys(keys))
    report = MissingReport([])
    unasked: dict[str, list[str]] = {}
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="bitstore-missing") as pool:
        for store in _tiers(composite, include_paid):
            asked = [key for key in pending if store.is_valid(key)]
            if not asked:
                continue
            report.requests[str(store)] = len(asked)
            answers = dict(zip(asked, pool.map(_holds, repeat(store), asked), strict=True))
            for key, answer in answers.items():
                if answer is None:
                    unasked.setdefault(key, []).append(str(store))
            pending = [key for key in pending if not answers.get(key)]
    report.missing = [key for key in pending if key not in unasked]
    report.undecided = {key: unasked[key] for key in pending if key in unasked}
    return report


def _tiers(composite: Composite, include_paid: bool) -> list[Store]:
    """The composite's tiers in order, without the write-back sources unless they are paid for."""
    paid = {id(store) for store in composite.cache_back}
    return [store for store in composite.sources if include_paid or id(store) not in paid]


def _holds(store: Store, key: str) -> bool | None:
    """Return whether the tier holds the blob, or None when it could not be asked."""
    try:
        return store.exists(key)
    except StoreNotAvailable:
        return None
