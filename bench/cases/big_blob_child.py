"""Read one large blob in this fresh process and print what it cost, as one JSON line:

    python -m bench.cases.big_blob_child ours|seed <sha1> <sha1 of a small warm-up blob>

`ours` streams it through `Sha1Composite.open` in 1 MiB chunks; `seed` calls the seed
library's `get`. Peak memory growth is VmHWM after the read minus VmHWM before it (after the
libraries are imported and the clients made by reading the small blob).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from bench.data import MIB
from bench.layouts import our_composite, seed_composite

CHUNK = 1 * MIB


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def read_ours(composite, sha1: str) -> tuple[int, str]:
    digest, total = hashlib.sha1(), 0
    with composite.open(sha1) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            total += len(chunk)
    return total, digest.hexdigest()


def read_seed(composite, sha1: str) -> tuple[int, str]:
    data = composite.get(sha1)
    return len(data), hashlib.sha1(data).hexdigest()


def main() -> None:
    library, sha1, warm = sys.argv[1:4]
    composite = our_composite() if library == "ours" else seed_composite()
    read = read_ours if library == "ours" else read_seed
    read(composite, warm)
    before = peak_rss_mib()
    started = time.perf_counter()
    size, digest = read(composite, sha1)
    seconds = time.perf_counter() - started
    after = peak_rss_mib()
    print(
        json.dumps(
            {
                "library": library,
                "bytes": size,
                "sha1": digest,
                "seconds": seconds,
                "mib_per_s": size / MIB / seconds,
                "hwm_before_mib": before,
                "hwm_after_mib": after,
                "growth_mib": after - before,
            }
        )
    )


if __name__ == "__main__":
    main()
