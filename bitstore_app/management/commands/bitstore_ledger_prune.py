"""Delete ledger records older than a number of days."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bitstore_app.models import FetchRecord


class Command(BaseCommand):
    help = "Delete fetch ledger records older than --older-than DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, required=True, metavar="DAYS")

    def handle(self, older_than, **options):
        try:
            if not older_than >= 0:  # NaN too
                raise ValueError
            cutoff = timezone.now() - timedelta(days=older_than)
        except (ValueError, OverflowError):
            raise CommandError(
                f"--older-than must be a number of days from 0 to what a date holds, not "
                f"{older_than}"
            ) from None
        deleted, _ = FetchRecord.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} ledger records older than {older_than:g} days.")
