"""Read one large blob in this fresh process and print what it cost, as one JSON line:

    python -m bench.cases.big_blob_child open|get|seed|raw <sha1> <sha1 of a small blob>

`open` streams it through bitstore's `Sha1Composite.open` in 1 MiB chunks, `get` calls
bitstore's `Sha1Composite.get`, `seed` the seed library's `get`, and `raw` reads it with a
plain boto3 `get_object(...)["Body"].read()`. Peak memory growth is VmHWM after the read
minus VmHWM before it (after the libraries are imported and the clients made by reading the
small blob).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from bench.data import FIRST, MIB
from bench.layouts import our_composite, raw_s3_get, seed_composite

CHUNK = 1 * MIB


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def read_ours(composite, sha1: str) -> tuple[int, str, float]:
    """Stream the blob in chunks, hashing as it comes (timed together: that is the use)."""
    started, digest, total = time.perf_counter(), hashlib.sha1(), 0
    with composite.open(sha1) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            total += len(chunk)
    return total, digest.hexdigest(), time.perf_counter() - started


def read_whole(get, sha1: str) -> tuple[int, str, float]:
    """Read the blob in one call (timed), then hash it to check it (not timed)."""
    started = time.perf_counter()
    data = get(sha1)
    seconds = time.perf_counter() - started
    return len(data), hashlib.sha1(data).hexdigest(), seconds


def reader(library: str):
    """Return the function that reads a blob, with its client made."""
    if library == "open":
        composite = our_composite()
        return lambda sha1: read_ours(composite, sha1)
    if library == "raw":
        get = raw_s3_get(FIRST)
    else:
        get = (our_composite() if library == "get" else seed_composite()).get
    return lambda sha1: read_whole(get, sha1)


def main() -> None:
    library, sha1, warm = sys.argv[1:4]
    read = reader(library)
    read(warm)
    before = peak_rss_mib()
    size, digest, seconds = read(sha1)
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
