"""Case 1: one 4 KiB blob found in the first tier, sequential `get`, against a raw boto3
`get_object` of the same key: the cost of the library itself."""

from __future__ import annotations

from ..data import FIRST, KIB, blob, put_s3
from ..layouts import our_composite, raw_s3_get, seed_composite
from ..report import CaseResult
from ..timing import interleaved

TITLE = "one 4 KiB blob, first-tier hit, sequential get (ms per get)"
TARGET = 1.02


def run(bench) -> CaseResult:
    case = CaseResult(1, TITLE)
    data = blob("first", 0, 4 * KIB)
    [sha1] = put_s3(FIRST, [data])
    raw, seed, ours = raw_s3_get(FIRST), seed_composite(), our_composite()
    assert raw(sha1) == seed.get(sha1) == ours.get(sha1) == data
    stats = interleaved(
        {"raw": lambda: raw(sha1), "seed": lambda: seed.get(sha1), "ours": lambda: ours.get(sha1)},
        bench.sizes.rounds * 2,  # the target is 2%: more samples
        bench.sizes.calls,
    )
    base = case.add("raw boto3 get_object", stats["raw"])
    case.add("seed library Sha1Composite.get", stats["seed"], base)
    ours_row = case.add("bitstore core Sha1Composite.get", stats["ours"], base)
    cpu_base = case.add("raw boto3: client CPU per get", stats["raw cpu"])
    case.add("seed library: client CPU per get", stats["seed cpu"], cpu_base)
    case.add("bitstore: client CPU per get", stats["ours cpu"], cpu_base)
    case.target(f"bitstore <= {TARGET}x raw boto3", ours_row.ratio, ours_row.ratio <= TARGET)
    bench.profile("case1-first-tier-get", lambda: [ours.get(sha1) for _ in range(200)])
    return case
