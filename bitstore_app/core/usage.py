"""What a cache level holds: its bytes and blobs, and how many it evicted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """A cache level's contents as the level counted them.

    A bounded folder counts every fill and recounts itself at each eviction pass; a bounded
    memory tier counts exactly; an unbounded folder is counted by its last scrub.
    """

    bytes: int
    blobs: int
    #: Blobs removed to keep the level under its size, since the level was first counted.
    evictions: int = 0
    #: The level's size limit in bytes; None when it has none.
    max_bytes: int | None = None
    #: When the level's files were last counted (seconds since the epoch); None: exact.
    counted_at: float | None = None
