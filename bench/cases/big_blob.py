"""Case 4: a 256 MiB blob read through `open()` in 1 MiB chunks, against the seed library's
`get`: throughput, and the growth of peak memory (VmHWM), each read in a fresh child process
(`bench.cases.big_blob_child`) so that one reading cannot inflate another's peak."""

from __future__ import annotations

import json
import subprocess
import sys

from ..data import FIRST, KIB, MIB, blob, large_chunks, large_sha1, put_s3, put_s3_large
from ..report import CaseResult
from ..servers import ROOT
from ..timing import Stats

TITLE = "a 256 MiB blob: open() in chunks vs the seed's get"
TARGET_MIB = 32


def run(bench) -> CaseResult:
    size = bench.sizes.big_size
    case = CaseResult(4, TITLE.replace("256 MiB", f"{size // MIB} MiB"))
    sha1 = large_sha1("big", size)
    put_s3_large(FIRST, large_chunks("big", size), sha1)
    [warm] = put_s3(FIRST, [blob("first", 0, 4 * KIB)])
    runs = {"seed": [], "ours": []}
    for repeat in range(bench.sizes.big_repeats):
        for library in ("seed", "ours") if repeat % 2 == 0 else ("ours", "seed"):
            runs[library].append(_child(library, sha1, warm, size))
    seed_speed = case.add(
        "seed library get: throughput", _stats(runs["seed"], "mib_per_s", "MiB/s")
    )
    case.add(
        "bitstore open() + 1 MiB reads: throughput",
        _stats(runs["ours"], "mib_per_s", "MiB/s"),
        seed_speed,
    )
    seed_memory = case.add(
        "seed library get: peak memory growth", _stats(runs["seed"], "growth_mib", "MiB")
    )
    ours_memory = case.add(
        "bitstore open() + 1 MiB reads: peak memory growth",
        _stats(runs["ours"], "growth_mib", "MiB"),
        seed_memory,
    )
    growth = ours_memory.stats.max
    case.target(f"bitstore peak growth < {TARGET_MIB} MiB (worst run)", growth, growth < TARGET_MIB)
    return case


def _stats(runs: list[dict], key: str, unit: str) -> Stats:
    return Stats.of([run[key] for run in runs], unit)


def _child(library: str, sha1: str, warm: str, size: int) -> dict:
    command = [sys.executable, "-m", "bench.cases.big_blob_child", library, sha1, warm]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {library} reader failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bytes"] == size and result["sha1"] == sha1, result
    return result
