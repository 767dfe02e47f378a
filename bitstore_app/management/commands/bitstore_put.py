"""Store a file as a blob and print its SHA1."""

import sys

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.core import sha1_of


class Command(BaseCommand):
    help = (
        "Store FILE (or - for stdin) in the tiers that accept puts and the top cache level "
        "(or the one unbounded cache level, when no tier accepts puts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to store, or - for stdin")

    def handle(self, file, **options):
        try:
            if file == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(file, "rb") as handle:
                    data = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        sha1 = sha1_of(data)
        try:
            services.put(sha1, data)
        except (NotImplementedError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            raise CommandError(f"could not store {sha1}: {exc}") from None
        self.stdout.write(sha1)
