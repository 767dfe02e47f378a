"""Print a blob (or write it to a file) by SHA1."""

import shutil

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.core import BitstoreError


class Command(BaseCommand):
    help = "Fetch a blob by SHA1 from the tiers and write it to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("sha1", help="the blob's SHA1 (or sha1://<sha1>)")
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")

    def handle(self, sha1, output=None, **options):
        try:
            with services.open_recorded(sha1) as blob:
                if output:
                    with open(output, "wb") as file:
                        shutil.copyfileobj(blob, file)
                else:
                    target = self._binary_stdout()
                    shutil.copyfileobj(blob, target)
                    target.flush()
        except BitstoreError as exc:  # not found, invalid SHA1, invalid data, not available
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None

    def _binary_stdout(self):
        """The byte stream under this command's stdout (call_command(stdout=...) included)."""
        stream = self.stdout._out
        return getattr(stream, "buffer", stream)
