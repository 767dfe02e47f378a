"""Re-verify the filesystem cache tiers' folders and remove the blobs that fail."""

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.models import Tier


class Command(BaseCommand):
    help = (
        "Hash every blob in the enabled filesystem cache tiers (or the --tier NAME ones) and"
        " remove those whose content no longer matches their SHA1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tier", action="append", metavar="NAME", help="only this tier")

    def handle(self, tier, **options):
        caches = Tier.objects.enabled().filter(kind="filesystem", role=Tier.CACHE)
        unknown = sorted(set(tier or ()) - set(caches.values_list("name", flat=True)))
        if unknown:
            raise CommandError(f"not an enabled filesystem cache tier: {', '.join(unknown)}")
        reports = services.scrub_caches(tier)
        if not reports:
            self.stdout.write("No enabled filesystem cache tier to scrub.")
        for report in reports:
            self.stdout.write(report.summary())
