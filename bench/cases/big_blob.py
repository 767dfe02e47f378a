"""Case 4: a 256 MiB blob from nginx, each read in a fresh child process
(`bench.cases.big_blob_child`) so that one reading cannot inflate another's peak memory:

- bitstore's `open()` read in 1 MiB chunks against the seed library's `get`: streaming
  holds a chunk, not the blob;
- bitstore's `get()` against a raw boto3 `get_object(...)["Body"].read()`: one read of the
  whole body, at the SDK's speed, holding the blob once.

Peak memory growth is VmHWM after the read minus VmHWM before it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..data import FIRST, KIB, MIB, blob, write_files, write_large_file
from ..report import CaseResult
from ..servers import ROOT
from ..timing import Stats

TITLE = "a 256 MiB blob: open() in chunks vs the seed's get; get() vs raw boto3"
TARGET_MIB = 32
SPEED_TARGET = 0.95
MEMORY_TARGET = 1.1
LABELS = {
    "seed": "seed library get",
    "open": "bitstore open() + 1 MiB reads",
    "raw": "raw boto3 Body.read()",
    "get": "bitstore get()",
}


def run(bench) -> CaseResult:
    nginx = bench.need_nginx()
    size = bench.sizes.big_size
    case = CaseResult(4, TITLE.replace("256 MiB", f"{size // MIB} MiB"))
    sha1 = write_large_file(bench.files, FIRST, "big", size)
    [warm] = write_files(bench.files, FIRST, [blob("first", 0, 4 * KIB)])
    runs = {library: [] for library in LABELS}
    for repeat in range(bench.sizes.big_repeats):
        order = list(LABELS) if repeat % 2 == 0 else list(reversed(LABELS))
        for library in order:
            runs[library].append(_child(library, sha1, warm, size, nginx.endpoint))
    rows = {}
    for first, second in (("seed", "open"), ("raw", "get")):
        rows[first] = case.add(f"{LABELS[first]}: throughput", _stats(runs[first], "mib_per_s"))
        rows[second] = case.add(
            f"{LABELS[second]}: throughput", _stats(runs[second], "mib_per_s"), rows[first]
        )
    memory = {}
    for library in LABELS:
        memory[library] = case.add(
            f"{LABELS[library]}: peak memory growth", _stats(runs[library], "growth_mib", "MiB")
        )
    growth = memory["open"].stats.max
    case.target(f"open() peak growth < {TARGET_MIB} MiB (worst run)", growth, growth < TARGET_MIB)
    speed = rows["get"].ratio
    case.target(
        f"get() >= {SPEED_TARGET}x raw boto3 Body.read() throughput", speed, speed >= SPEED_TARGET
    )
    held = memory["get"].stats.max / (size / MIB)
    case.target(
        f"get() peak growth <= {MEMORY_TARGET}x the blob (worst run)", held, held <= MEMORY_TARGET
    )
    return case


def _stats(runs: list[dict], key: str, unit: str = "MiB/s") -> Stats:
    return Stats.of([run[key] for run in runs], unit)


def _child(library: str, sha1: str, warm: str, size: int, endpoint: str) -> dict:
    command = [sys.executable, "-m", "bench.cases.big_blob_child", library, sha1, warm]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
        env={**os.environ, "AWS_ENDPOINT_URL_S3": endpoint},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {library} reader failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bytes"] == size and result["sha1"] == sha1, result
    return result
