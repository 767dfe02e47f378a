"""What a tier said when asked, what a fetch came to, and why a tier was not asked.

The values are the strings the fetch ledger stores, so that records written before these
enums existed read the same.
"""

from __future__ import annotations

from enum import StrEnum

from .exceptions import InvalidDataFound, NotFoundInStore

__all__ = ["FETCH_OUTCOMES", "Outcome", "SkipReason", "attempt_outcome", "outcome_of"]


class Outcome(StrEnum):
    """The outcome of one attempt (one tier asked), or of a whole fetch."""

    HIT = "hit"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"
    SKIPPED = "skipped"
    ERROR = "error"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Outcome.HIT: "Hit",
    Outcome.NOT_FOUND: "Not found",
    Outcome.UNAVAILABLE: "Not available",
    Outcome.INVALID: "Invalid data",
    Outcome.SKIPPED: "Skipped",
    Outcome.ERROR: "Error",
}

#: What a fetch can come to, as the ledger records it.
FETCH_OUTCOMES = (Outcome.HIT, Outcome.NOT_FOUND, Outcome.ERROR, Outcome.INVALID)


class SkipReason(StrEnum):
    """Why a tier was not asked during a fetch."""

    CIRCUIT_OPEN = "circuit_open"  # it failed too often lately
    NEGATIVE_CACHE = "negative_cache"  # it said "not found" for this blob moments ago
    RATE_LIMITED = "rate_limited"  # its requests per second are used up
    BUDGET = "budget"  # its monthly request or spend budget is used up
    INDEX = "index"  # the location index sent the fetch to a later tier, which had it

    @property
    def unavailable(self) -> bool:
        """Whether the tier might hold the blob but could not be asked: retry later."""
        return self in (SkipReason.CIRCUIT_OPEN, SkipReason.RATE_LIMITED, SkipReason.BUDGET)


def outcome_of(error: Exception) -> tuple[Outcome, SkipReason | None]:
    """Return the attempt outcome a tier's error means, and the skip reason if it was not
    asked (errors that skip a tier carry a `skip_reason`)."""
    reason = getattr(error, "skip_reason", None)
    if reason is not None:
        return Outcome.SKIPPED, SkipReason(reason)
    if isinstance(error, InvalidDataFound):
        return Outcome.INVALID, None
    if isinstance(error, NotFoundInStore):
        return Outcome.NOT_FOUND, None
    return Outcome.UNAVAILABLE, None


#: How an open circuit's attempt read before skips were recorded: "unavailable", with this
#: in its detail (`CircuitOpen`'s message).
_OLD_CIRCUIT_OPEN = "is not available: circuit open"


def attempt_outcome(attempt: dict) -> tuple[Outcome | None, SkipReason | None]:
    """Return the outcome and skip reason of an attempt as the ledger stored it (None for a
    value no release wrote), reading records of every release the same way."""
    try:
        outcome = Outcome(attempt.get("outcome", ""))
    except ValueError:
        return None, None
    if outcome is Outcome.UNAVAILABLE and _OLD_CIRCUIT_OPEN in attempt.get("detail", ""):
        return Outcome.SKIPPED, SkipReason.CIRCUIT_OPEN
    try:
        reason = SkipReason(attempt["reason"]) if attempt.get("reason") else None
    except ValueError:
        reason = None
    return outcome, reason
