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
        if older_than < 0:
            raise CommandError("--older-than must be zero or more days")
        cutoff = timezone.now() - timedelta(days=older_than)
        deleted, _ = FetchRecord.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} ledger records older than {older_than:g} days.")
