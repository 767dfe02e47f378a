"""Print a blob (or write it to a file) by SHA1."""

import shutil
import sys

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.core import InvalidURI, NotFoundInStore


class Command(BaseCommand):
    help = "Fetch a blob by SHA1 from the tiers and write it to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("sha1", help="the blob's SHA1 (or sha1://<sha1>)")
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")

    def handle(self, sha1, output=None, **options):
        try:
            with services.open(sha1) as blob:
                if output:
                    with open(output, "wb") as file:
                        shutil.copyfileobj(blob, file)
                else:
                    shutil.copyfileobj(blob, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
        except (InvalidURI, NotFoundInStore) as exc:
            raise CommandError(str(exc)) from None
