"""What every case is given: the sizes of this run, the emulators, a scratch folder, and
a way to profile a piece of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import profiling
from .data import MIB
from .servers import Emulators


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
    missing_count: int = 10_000  # case 19


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
    missing_count=200,
)


@dataclass
class Bench:
    sizes: Sizes
    emulators: Emulators
    folder: Path
    profiles: Path | None = None

    def profile(self, name: str, work: Callable[[], object]) -> None:
        """With `--profile`, run `work` once more under pyinstrument and keep the report."""
        if self.profiles is not None:
            profiling.pyinstrument(self.profiles / f"{name}.txt", work)

    def spy(self, name: str, pid: int, work: Callable[[], object], **summary) -> None:
        """With `--profile`, run `work` once more while py-spy samples process `pid`."""
        if self.profiles is not None:
            profiling.py_spy(self.profiles, name, pid, work, **summary)
