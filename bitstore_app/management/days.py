"""Spans of days given to the commands, checked once: a number a date can hold, or one line
naming the option."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone


def days_from_now(option: str, days: float, *, later: bool = False, zero: bool = False) -> datetime:
    """Return the moment `days` days before now (after it, with `later`); raise `CommandError`
    naming `option` unless `days` is positive (or 0, with `zero`) and a date can hold it."""
    try:
        if not (days >= 0 if zero else days > 0):  # NaN too
            raise ValueError
        span = timedelta(days=days)
        return timezone.now() + span if later else timezone.now() - span
    except (ValueError, OverflowError):
        which = "a number of days from 0" if zero else "a positive number of days"
        raise CommandError(f"{option} must be {which} that a date can hold, not {days}") from None
