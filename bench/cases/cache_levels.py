"""Case 23: cache levels. What keeping a filesystem level under `max_bytes` costs per fill,
and what a fetch served by the second level costs against one served by the first.

Fills: what a bounded folder adds to a fill is the step that places the written file: a
bare rename for an unbounded folder; for a folder bounded at 1,000 or 10,000 blobs' worth of
16 KiB (full before timing starts, so that every fill churns) the count under `flock`, the
rename, and, once every tenth of the capacity, an eviction pass (list the folder, sort by
time, remove the oldest down to the low watermark). That step is timed apart from writing
the file and its fsync, which are the same with or without a bound and vary by a factor of
two from run to run on a shared disk (a whole fill, fsync included, is shown for scale).
Rounds hold several passes, so the per-fill figures are amortized; a pass is timed alone.

Levels: two filesystem levels (verifying `Sha1Cache`s) in a core composite, 64 KiB blobs:
a first-level hit; a second-level hit whose blob is promoted into the first level (the
first level's copy removed before each fetch, outside the timing); and a second-level hit
with a read-only first level (asked, missed, nothing written).
"""

from __future__ import annotations

import os
import time

from ..data import KIB, blobs, sha1
from ..report import CaseResult
from ..timing import Stats

TITLE = "cache levels: eviction per fill, a second-level hit vs a first-level hit"
NUMBER = 23
FILL_SIZE = 16 * KIB
HIT_SIZE = 64 * KIB


def run(bench) -> CaseResult:
    case = CaseResult(NUMBER, TITLE)
    _fills(case, bench)
    _hits(case, bench)
    return case


def _fills(case: CaseResult, bench) -> None:
    from bitstore_app.core import FileSystemRaw

    capacity = bench.sizes.level_blobs
    data = os.urandom(FILL_SIZE)
    plain = bench.folder / "fills-unbounded"
    plain.mkdir(parents=True, exist_ok=True)
    budgets = {
        f"bounded at {capacity:,} blobs": _full(bench, capacity, data).budget,
        f"bounded at {10 * capacity:,} blobs": _full(bench, 10 * capacity, data).budget,
    }
    places = {"unbounded (the rename alone)": lambda temp, path: os.replace(temp, path)}
    places.update({name: budget.place for name, budget in budgets.items()})
    per_round = max(capacity // 2, 10)  # five passes a round at the smaller size
    counter = iter(range(10**9))
    samples = {name: {"wall": [], "cpu": []} for name in places}
    for number in range(bench.sizes.level_rounds):
        names = list(places) if number % 2 == 0 else list(reversed(places))
        for name in names:
            folder = budgets[name].root if name in budgets else plain
            wall = cpu = 0.0
            for _ in range(per_round):
                key = f"fill-{next(counter)}"
                temp = folder / f".incoming-{key}"
                temp.write_bytes(data)  # the write itself is the same for all: not timed
                started, cpu_started = time.perf_counter(), time.process_time()
                places[name](str(temp), str(folder / key))
                wall += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
            samples[name]["wall"].append(wall / per_round * 1e6)
            samples[name]["cpu"].append(cpu / per_round * 1e6)
    whole = FileSystemRaw(plain)
    started = time.perf_counter()
    for number in range(per_round):
        whole.put(f"whole-{number}", data)
    case.add(
        "a whole 16 KiB fill, unbounded (write, fsync, rename): wall per fill",
        Stats.of([(time.perf_counter() - started) / per_round * 1e6], "us"),
    )
    bases = {}
    for measure, unit in (("wall", "us"), ("cpu", "us cpu")):
        for name, values in samples.items():
            label = f"placing a fill, {name}: {'CPU' if measure == 'cpu' else 'wall'} per fill"
            row = case.add(label, Stats.of(values[measure], unit), bases.get(measure))
            bases.setdefault(measure, row)
            if name not in budgets or measure == "cpu":
                continue
            held = budgets[name].usage()
            assert held.bytes <= budgets[name].max_bytes, "a bounded folder grew past its size"
            extra = row.stats.median - bases["wall"].stats.median
            every = (budgets[name].max_bytes - budgets[name].low_bytes) // FILL_SIZE
            case.target(
                f"eviction's cost per fill, {name} (amortized, wall)",
                row.ratio,
                None,
                f"{extra:.0f} us per fill over a bare rename (the count under flock, and a "
                f"pass every {every:,} fills); {held.evictions:,} evictions",
            )
    for name, budget in budgets.items():
        case.add(f"one eviction pass, {name}: wall", _pass(budget, data), None)


def _full(bench, blobs_held: int, data: bytes):
    """Return a bounded folder at its size: files written directly (no fsync), the oldest
    first, then counted by a pass."""
    from bitstore_app.core import FileSystemRaw

    folder = bench.folder / f"fills-{blobs_held}"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time() - 3600
    for number in range(blobs_held):
        path = folder / f"old-{number}"
        path.write_bytes(data)
        os.utime(path, (start + number / 1000, start + number / 1000))
    store = FileSystemRaw(folder, max_bytes=blobs_held * len(data))
    store.budget.evict()
    return store


def _pass(budget, data: bytes) -> Stats:
    """Time passes alone: each one over a full folder, evicting a tenth of it."""
    times = []
    for number in range(5):
        temp = budget.root / f".incoming-pass-{number}"
        temp.write_bytes(data)
        budget.place(str(temp), str(budget.root / f"pass-{number}"))  # full again
        started = time.perf_counter()
        budget.evict(room=budget.max_bytes - budget.low_bytes)
        times.append((time.perf_counter() - started) * 1000)
    return Stats.of(times, "ms")


def _hits(case: CaseResult, bench) -> None:
    from bitstore_app.core import FileSystemRaw, Sha1Cache, Sha1Composite
    from bitstore_app.core.read_only import ReadOnlyStore

    top, second = (FileSystemRaw(bench.folder / name) for name in ("level-1", "level-2"))
    levels = Sha1Composite()
    levels.append_cache_level(Sha1Cache(top, "", verify=True))
    levels.append_cache_level(Sha1Cache(second, "", verify=True))
    read_only_top = Sha1Composite()
    read_only_top.append_cache_level(ReadOnlyStore(Sha1Cache(top, "", verify=True)))
    read_only_top.append_cache_level(Sha1Cache(second, "", verify=True))
    items = [(sha1(data), data) for data in blobs("levels", bench.sizes.level_hits, HIT_SIZE)]
    for key, data in items:
        second.put(key, data)
        top.put(key, data)

    def first_level(key: str) -> None:
        pass

    def promoted(key: str) -> None:
        os.unlink(top.path(key))  # untimed: the blob is in the second level only

    ways = {
        "first-level hit": (levels, first_level),
        "second-level hit, promoted into the first": (levels, promoted),
        "second-level hit, first level read-only (asked, nothing written)": (
            read_only_top,
            promoted,
        ),
    }
    samples = {name: [] for name in ways}
    for number in range(bench.sizes.rounds):
        names = list(ways) if number % 2 == 0 else list(reversed(ways))
        for name in names:
            composite, before = ways[name]
            spent = 0.0
            for key, data in items:
                before(key)
                started = time.perf_counter()
                assert composite.get(key) == data
                spent += time.perf_counter() - started
                if not top.exists(key):
                    top.put(key, data)  # back in the first level for the next way
            samples[name].append(spent / len(items) * 1e6)
    base = None
    for name, values in samples.items():
        row = case.add(f"64 KiB, {name}: wall per get", Stats.of(values, "us"), base)
        base = base or row
        if row is not base:
            case.target(f"{name} against a first-level hit", row.ratio, None)
