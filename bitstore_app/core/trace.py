"""What one fetch did: which tiers it tried, what each said, and how long each took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from .outcomes import Outcome, SkipReason

# The outcomes under the names this module has always had.
HIT = Outcome.HIT
NOT_FOUND = Outcome.NOT_FOUND
UNAVAILABLE = Outcome.UNAVAILABLE
INVALID = Outcome.INVALID
SKIPPED = Outcome.SKIPPED
ERROR = Outcome.ERROR


@dataclass
class Attempt:
    """One tier asked during a fetch, or skipped (then `reason` says why)."""

    tier: str
    outcome: Outcome
    seconds: float
    detail: str = ""
    reason: SkipReason | None = None

    @property
    def unavailable(self) -> bool:
        """Whether the tier could not answer: it failed, or was skipped while it might
        hold the blob (its circuit is open, say)."""
        if self.outcome == SKIPPED:
            return self.reason is not None and SkipReason(self.reason).unavailable
        return self.outcome == UNAVAILABLE


@dataclass
class Fetch:
    """The result of asking the tiers for one URI."""

    uri: str
    data: bytes | None = None
    served_by: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    #: The cache levels the blob was written into by this fetch, top first.
    written_to: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: Exception | None = None
    #: A streaming read (`Composite.open_fetch`): the open file, and how many bytes were read.
    stream: BinaryIO | None = None
    bytes_read: int = 0
    #: Bytes handed to the client (the blob URL sets it): a stream reads ahead of what the
    #: server has taken, so a client that hangs up was sent less than was read.
    bytes_sent: int | None = None

    @property
    def outcome(self) -> Outcome:
        """hit, not_found, invalid or error: the fetch's result as the ledger records it."""
        if self.data is not None or (self.stream is not None and self.error is None):
            return HIT
        if any(attempt.unavailable for attempt in self.attempts):
            return ERROR
        if any(attempt.outcome == INVALID for attempt in self.attempts):
            return INVALID
        return NOT_FOUND

    @property
    def cache_written(self) -> bool:
        """Whether the fetch wrote the blob into a cache level."""
        return bool(self.written_to)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.bytes_read if self.bytes_sent is None else self.bytes_sent
