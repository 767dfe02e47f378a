"""Print which of the SHA1s of a file no tier holds, with existence checks only."""

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.core import InvalidURI, StoreNotAvailable
from bitstore_app.management.commands.bitstore_warm import read_hashes


class Command(BaseCommand):
    help = (
        "Read SHA1s (one per line) from FILE or stdin and print those no tier holds, one per "
        "line. Tiers are asked with existence checks, never downloads; write-back (paid) "
        "sources only with --include-paid."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", default="-", help="SHA1s, one per line; - (the default) is stdin"
        )
        parser.add_argument(
            "--include-paid", action="store_true", help="ask the write-back sources too"
        )

    def handle(self, file, include_paid=False, **options):
        hashes = read_hashes(file)
        try:
            found = services.missing(hashes, include_paid=include_paid)
        except InvalidURI as exc:
            raise CommandError(f"'{exc.uri[:100]}' is not a SHA1") from None
        except StoreNotAvailable as exc:
            raise CommandError(str(exc)) from None
        for sha1 in found:
            self.stdout.write(sha1)
        self.stderr.write(f"{len(found)} of {len(set(hashes))} missing")
