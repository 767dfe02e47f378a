"""Case 2: a blob found in the third tier after misses in two (S3 prefix, GCS prefix, S3
prefix), against a first-tier hit: with the location index (a blob seen before) and with
concurrent probes (a blob never seen).

It runs twice: on the emulators as they are (each request costs mostly CPU, of this process
and of the emulators, on the same 2 cores), and behind loopback proxies that add a fixed
delay per request, as a network round trip to a cloud bucket would.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

from ..data import FIRST, KIB, THIRD, blob, put_s3
from ..layouts import our_composite, seed_composite
from ..report import CaseResult
from ..servers import latency_proxy
from ..timing import interleaved

TITLE = "third-tier hit after two misses (S3, GCS, S3) (ms per get)"
TARGET = 1.2
DELAY_MS = 20


def run(bench) -> CaseResult:
    case = CaseResult(2, TITLE)
    first, third = blob("first", 0, 4 * KIB), blob("third", 0, 4 * KIB)
    keys = put_s3(FIRST, [first])[0], put_s3(THIRD, [third])[0]
    _measure(case, bench, keys, {}, "", seed_composite())
    with ExitStack() as stack:
        s3 = stack.enter_context(latency_proxy(bench.emulators.s3, DELAY_MS))
        gcs = stack.enter_context(latency_proxy(bench.emulators.gcs, DELAY_MS))
        endpoints = {"s3": s3.endpoint, "gcs": gcs.endpoint}
        _measure(case, bench, keys, endpoints, f" (+{DELAY_MS} ms a request)", None)
    case.notes.append(
        "concurrent probes ask every tier that is not a write-back source at once: a "
        "first-tier hit of an unseen blob then costs the other tiers one request each"
    )
    return case


def _measure(case, bench, keys, endpoints, suffix, seed) -> None:
    from bitstore_app.core import LocationIndex

    first_sha1, third_sha1 = keys
    plain = our_composite(**endpoints)
    indexed = our_composite(index=LocationIndex(1000), **endpoints)
    # Without an index every get is of a blob never seen: the concurrent probe each time.
    concurrent = our_composite(concurrent=True, **endpoints)
    contenders = {
        "first": lambda: plain.get(first_sha1),
        "plain": lambda: plain.get(third_sha1),
        "indexed": lambda: indexed.get(third_sha1),
        "concurrent": lambda: concurrent.get(third_sha1),
        "concurrent_first": lambda: concurrent.get(first_sha1),
    }
    if seed is not None:
        contenders["seed"] = lambda: seed.get(third_sha1)
    for get in contenders.values():
        get()  # the index learns where the third-tier blob is
    rounds, calls = bench.sizes.rounds, bench.sizes.calls
    if endpoints:
        rounds, calls = max(2, rounds * 2 // 3), max(3, calls // 4)
    stats = interleaved(contenders, rounds, calls)
    base = case.add(f"first-tier hit{suffix} (the baseline)", stats["first"])
    if seed is not None:
        case.add("seed library: third-tier hit", stats["seed"], base)
    case.add(f"sequential (seed semantics): third-tier hit{suffix}", stats["plain"], base)
    seen = case.add(f"location index: seen blob, third tier{suffix}", stats["indexed"], base)
    unseen = case.add(
        f"concurrent probes: unseen blob, third tier{suffix}", stats["concurrent"], base
    )
    case.add(f"concurrent probes: unseen blob, first tier{suffix}", stats["concurrent_first"], base)
    if not endpoints:
        cpu_base = case.add("first-tier hit: client CPU per get", stats["first cpu"])
        for name, label in (("plain", "sequential"), ("indexed", "location index")):
            case.add(f"{label}, third tier: client CPU per get", stats[f"{name} cpu"], cpu_base)
        for name, tier in (("concurrent", "third"), ("concurrent_first", "first")):
            label = f"concurrent probes, {tier} tier: client CPU per get"
            case.add(label, stats[f"{name} cpu"], cpu_base)
    where = suffix.strip() or "(emulators as they are)"
    text = f"{TARGET}x a first-tier hit {where}"
    case.target(f"seen blob <= {text}", seen.ratio, seen.ratio <= TARGET)
    case.target(f"unseen blob <= {text}", unseen.ratio, unseen.ratio <= TARGET)
    if not endpoints:
        bench.spy(
            "case2-concurrent-third-tier",
            os.getpid(),
            lambda: [concurrent.get(third_sha1) for _ in range(100)],
        )
