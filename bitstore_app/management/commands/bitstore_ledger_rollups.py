"""Rebuild the ledger's per-minute rollups from the ledger records (after an upgrade)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from bitstore_app.ledger.writer import rebuild_rollups
from bitstore_app.management.days import days_from_now


class Command(BaseCommand):
    help = (
        "Rebuild the statistics rollups from the fetch ledger: every record, or those of the"
        " last --days DAYS. Safe while fetches are recorded, and safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, metavar="DAYS", help="only the last DAYS")

    def handle(self, days, **options):
        since = None if days is None else days_from_now("--days", days)
        now = timezone.now()
        read = rebuild_rollups(since, now)
        scope = "every ledger record" if days is None else f"the last {days:g} days"
        self.stdout.write(f"Rebuilt the rollups of {scope}: {read} records.")
