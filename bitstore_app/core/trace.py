"""What one fetch did: which tiers it tried, what each said, and how long each took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

HIT = "hit"
NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"
INVALID = "invalid"
SKIPPED = "skipped"
ERROR = "error"


@dataclass
class Attempt:
    """One tier asked during a fetch."""

    tier: str
    outcome: str
    seconds: float
    detail: str = ""


@dataclass
class Fetch:
    """The result of asking the tiers for one URI."""

    uri: str
    data: bytes | None = None
    served_by: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    cache_written: bool = False
    seconds: float = 0.0
    error: Exception | None = None
    #: A streaming read (`Composite.open_fetch`): the open file, and how many bytes were read.
    stream: BinaryIO | None = None
    bytes_read: int = 0

    @property
    def outcome(self) -> str:
        """hit, not_found, invalid or error: the fetch's result as the ledger records it."""
        if self.data is not None or (self.stream is not None and self.error is None):
            return HIT
        if any(attempt.outcome == UNAVAILABLE for attempt in self.attempts):
            return ERROR
        if any(attempt.outcome == INVALID for attempt in self.attempts):
            return INVALID
        return NOT_FOUND

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.bytes_read
