"""Rebuild the ledger's per-minute rollups from the ledger records (after an upgrade)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bitstore_app.ledger_writer import rebuild_rollups


class Command(BaseCommand):
    help = (
        "Rebuild the statistics rollups from the fetch ledger: every record, or those of the"
        " last --days DAYS. Safe while fetches are recorded, and safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, metavar="DAYS", help="only the last DAYS")

    def handle(self, days, **options):
        if days is not None and days <= 0:
            raise CommandError("--days must be more than zero")
        now = timezone.now()
        since = None if days is None else now - timedelta(days=days)
        read = rebuild_rollups(since, now)
        scope = "every ledger record" if days is None else f"the last {days:g} days"
        self.stdout.write(f"Rebuilt the rollups of {scope}: {read} records.")
