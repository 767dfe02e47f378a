"""Delete ledger records, and cache level samples, older than a number of days."""

from django.core.management.base import BaseCommand

from bitstore_app.ledger import level_samples
from bitstore_app.management.days import days_from_now
from bitstore_app.models import FetchRecord


class Command(BaseCommand):
    help = (
        "Delete fetch ledger records, and the cache levels' samples, older than --older-than "
        "DAYS (the statistics rollups stay)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, required=True, metavar="DAYS")

    def handle(self, older_than, **options):
        cutoff = days_from_now("--older-than", older_than, zero=True)
        deleted, _ = FetchRecord.objects.filter(created_at__lt=cutoff).delete()
        samples = level_samples.prune(cutoff)
        self.stdout.write(
            f"Deleted {deleted} ledger records older than {older_than:g} days, and {samples} "
            "cache level samples."
        )
