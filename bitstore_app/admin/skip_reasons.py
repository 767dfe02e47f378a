"""Why a tier was not asked during a fetch, in words, for the ledger's record page."""

from __future__ import annotations

#: Each skip reason the ledger records, explained to an operator.
EXPLANATIONS = {
    "circuit_open": (
        "Not asked: the tier failed too many times in a row lately, so its circuit breaker is "
        "open. It is skipped until its cool-down ends; then one trial request decides."
    ),
    "negative_cache": (
        "Not asked: the tier said moments ago that it does not hold this blob, and that answer "
        "is remembered for the tier's negative cache TTL (forgotten once the blob is written)."
    ),
    "rate_limited": (
        "Not asked: the tier's rate limit, shared by all workers, had no turn free within "
        "RATE_LIMIT_MAX_WAIT seconds, so the next tier was asked instead."
    ),
    "budget": (
        "Not asked: the tier's monthly request or spend budget is spent. It is skipped until "
        "the UTC month ends or an operator raises the budget on the tier."
    ),
    "index": (
        "Not asked: the location index knew that a later tier served this blob last time and "
        "asked that tier first, and it had the blob."
    ),
}
UNKNOWN = "Not asked (no reason was recorded)."


def explain(reason: str | None) -> str:
    """Return the sentence that explains a skip reason."""
    return EXPLANATIONS.get(reason or "", UNKNOWN)
