"""Case 19: which of 10,000 SHA1s does no tier hold? `find_missing` (what
`bitstore_app.missing` and POST /bitstore/blobs/missing run) on three S3 prefixes, the third
a write-back (paid) source: requests sent to each tier, and seconds.

A tenth of the hashes are in the first tier, a tenth in the third, the rest nowhere. Without
`include_paid` the third tier is not asked; with it, only about the blobs the first two lack.
"""

from __future__ import annotations

import time

from ..data import FIRST, KIB, S3_BUCKET, THIRD, blobs, put_s3, sha1
from ..report import CaseResult
from ..timing import Stats

TITLE = "missing(): 10,000 SHA1s over three tiers (requests and seconds)"
NUMBER = 19
WORKERS = 16
#: The middle tier: an S3 prefix (the GCS emulator answers one request at a time).
SECOND = f"s3://{S3_BUCKET}/missing-second/"


def run(bench) -> CaseResult:
    from bitstore_app.core import S3Raw, Sha1Composite, Sha1Store
    from bitstore_app.core.missing import find_missing

    count = bench.sizes.missing_count
    case = CaseResult(NUMBER, TITLE.replace("10,000", f"{count:,}"))
    tenth = max(1, count // 10)
    first = put_s3(FIRST, blobs("missing-first", tenth, KIB))
    third = put_s3(THIRD, blobs("missing-third", tenth, KIB))
    nowhere = [sha1(f"missing-nowhere {i}".encode()) for i in range(count - 2 * tenth)]
    hashes = first + third + nowhere
    composite = Sha1Composite()
    composite.append_source(Sha1Store(S3Raw(), FIRST))
    composite.append_source(Sha1Store(S3Raw(), SECOND))
    composite.append_source(Sha1Store(S3Raw(), THIRD), cache_result=True)
    find_missing(composite, hashes[:WORKERS], workers=WORKERS)  # warm up clients and pools
    for include_paid, expected in ((False, third + nowhere), (True, nowhere)):
        started = time.perf_counter()
        report = find_missing(composite, hashes, include_paid=include_paid, workers=WORKERS)
        seconds = time.perf_counter() - started
        assert report.missing == expected and not report.undecided
        requests = sum(report.requests.values())
        label = "with the paid tier" if include_paid else "free tiers only"
        case.add(f"{label}: seconds", Stats.of([seconds], "s"))
        case.add(f"{label}: requests (all tiers)", Stats.of([float(requests)], "requests"))
        case.notes.append(f"{label}: requests per tier {report.requests}")
        # Each blob costs one request per tier up to the first that has it: no more.
        bound = count + (count - tenth) * (2 if include_paid else 1)
        case.target(
            f"{label}: requests <= one per tier up to the first holder ({bound:,})",
            float(requests),
            requests <= bound,
        )
    return case
