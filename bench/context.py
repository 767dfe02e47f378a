"""What every case is given: the sizes of this run, the emulators, a scratch folder, and
a way to profile a piece of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import profiling
from .data import MIB
from .servers import Emulators, Server


@dataclass(frozen=True)
class Sizes:
    """How much each case does; `FULL` finishes in a few minutes on 2 cores."""

    rounds: int = 15  # cases 1, 2 and 5: rounds of interleaved timing
    calls: int = 40  # calls per contender per round
    many_count: int = 2000  # case 3
    many_repeats: int = 3
    big_size: int = 256 * MIB  # case 4
    big_repeats: int = 2
    django_blobs: int = 200  # case 5
    warm_count: int = 2000  # case 6
    warm_repeats: int = 2
    disk_blobs: int = 200  # case 8: 4 KiB blobs read in turn (a twentieth as many of 1 MiB)
    disk_calls: int = 5000  # gets per contender per round
    disk_many: int = 10000  # blobs of its get_many
    missing_count: int = 10_000  # case 19
    level_blobs: int = 1000  # case 23: the smaller bounded folder, in 16 KiB blobs
    level_rounds: int = 8  # case 23: rounds of fills
    level_hits: int = 100  # case 23: 64 KiB blobs read from each level, per round


FULL = Sizes()
QUICK = Sizes(
    rounds=2,
    calls=3,
    many_count=20,
    many_repeats=1,
    big_size=4 * MIB,
    big_repeats=1,
    django_blobs=10,
    warm_count=20,
    warm_repeats=1,
    disk_blobs=20,
    disk_calls=40,
    disk_many=100,
    missing_count=200,
    level_blobs=50,
    level_rounds=2,
    level_hits=5,
)


class Unavailable(Exception):
    """A case cannot run here; the message says why."""


@dataclass
class Bench:
    sizes: Sizes
    emulators: Emulators
    folder: Path
    profiles: Path | None = None
    #: nginx serving `files` path-style: the read-only S3 stand-in of the throughput cases.
    nginx: Server | None = None
    files: Path | None = None

    def server_pids(self) -> tuple[int, ...]:
        """Return the processes of the servers the benchmark started (not the client's)."""
        servers = [self.emulators.s3, self.emulators.gcs, self.nginx]
        return tuple(server.pid for server in servers if server is not None)

    def need_nginx(self) -> Server:
        """Return the nginx stand-in, or raise why a case cannot run without it."""
        if self.nginx is None:
            raise Unavailable("nginx is not installed (make bench installs nginx-light)")
        return self.nginx

    def profile(self, name: str, work: Callable[[], object]) -> None:
        """With `--profile`, run `work` once more under pyinstrument and keep the report."""
        if self.profiles is not None:
            profiling.pyinstrument(self.profiles / f"{name}.txt", work)

    def spy(self, name: str, pid: int, work: Callable[[], object], **summary) -> None:
        """With `--profile`, run `work` once more while py-spy samples process `pid`."""
        if self.profiles is not None:
            profiling.py_spy(self.profiles, name, pid, work, **summary)
