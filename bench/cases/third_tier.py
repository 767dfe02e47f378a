"""Case 2: a blob found in the third tier after misses in two (S3 prefix, GCS prefix, S3
prefix), against a first-tier hit: with the location index (a blob seen before) and with
concurrent probes (a blob never seen)."""

from __future__ import annotations

from ..data import FIRST, KIB, THIRD, blob, put_s3
from ..layouts import our_composite, seed_composite
from ..report import CaseResult
from ..timing import interleaved

TITLE = "third-tier hit after two misses (S3, GCS, S3) (ms per get)"
TARGET = 1.2


def run(bench) -> CaseResult:
    from bitstore_app.core import LocationIndex

    case = CaseResult(2, TITLE)
    first, third = blob("first", 0, 4 * KIB), blob("third", 0, 4 * KIB)
    [first_sha1], [third_sha1] = put_s3(FIRST, [first]), put_s3(THIRD, [third])
    seed, plain = seed_composite(), our_composite()
    indexed = our_composite(index=LocationIndex(1000))
    # Without an index every get is of a blob never seen: the concurrent probe each time.
    concurrent = our_composite(concurrent=True)
    for composite in (seed, plain, indexed, concurrent):
        assert composite.get(third_sha1) == third and composite.get(first_sha1) == first
    stats = interleaved(
        {
            "first": lambda: plain.get(first_sha1),
            "seed": lambda: seed.get(third_sha1),
            "plain": lambda: plain.get(third_sha1),
            "indexed": lambda: indexed.get(third_sha1),
            "concurrent": lambda: concurrent.get(third_sha1),
            "concurrent_first": lambda: concurrent.get(first_sha1),
        },
        bench.sizes.rounds,
        bench.sizes.calls,
    )
    base = case.add("bitstore first-tier hit (the baseline)", stats["first"])
    case.add("seed library: third-tier hit", stats["seed"], base)
    case.add("bitstore, sequential (seed semantics): third-tier hit", stats["plain"], base)
    seen = case.add("bitstore + location index: seen blob, third tier", stats["indexed"], base)
    unseen = case.add(
        "bitstore concurrent probes: unseen blob, third tier", stats["concurrent"], base
    )
    case.add("bitstore concurrent probes: unseen blob, first tier", stats["concurrent_first"], base)
    cpu_base = case.add("first-tier hit: client CPU per get", stats["first cpu"])
    for name, label in (("plain", "sequential"), ("indexed", "location index")):
        case.add(f"{label}, third tier: client CPU per get", stats[f"{name} cpu"], cpu_base)
    for name, tier in (("concurrent", "third"), ("concurrent_first", "first")):
        label = f"concurrent probes, {tier} tier: client CPU per get"
        case.add(label, stats[f"{name} cpu"], cpu_base)
    case.target(f"seen blob <= {TARGET}x a first-tier hit", seen.ratio, seen.ratio <= TARGET)
    case.target(f"unseen blob <= {TARGET}x a first-tier hit", unseen.ratio, unseen.ratio <= TARGET)
    case.notes.append(
        "concurrent probes ask every tier that is not a write-back source at once: a "
        "first-tier hit of an unseen blob then costs the other tiers one request each"
    )
    bench.profile(
        "case2-concurrent-third-tier", lambda: [concurrent.get(third_sha1) for _ in range(100)]
    )
    return case
