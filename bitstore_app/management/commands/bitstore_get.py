"""Print a blob (or write it to a file) by SHA1."""

import os
import shutil
import tempfile

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.core import BitstoreError


class Command(BaseCommand):
    help = "Fetch a blob by SHA1 from the tiers and write it to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("sha1", help="the blob's SHA1 (or sha1://<sha1>)")
        parser.add_argument(
            "-o", "--output", help="write to this file (replaced only once the whole blob is in)"
        )

    def handle(self, sha1, output=None, **options):
        try:
            with services.open_recorded(sha1) as blob:
                if output:
                    self._write_file(blob, output)
                else:
                    target = self._binary_stdout()
                    shutil.copyfileobj(blob, target)
                    target.flush()
        except BitstoreError as exc:  # not found, invalid SHA1, invalid data, not available
            raise CommandError(str(exc).splitlines()[0]) from None
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None

    def _write_file(self, blob, output: str) -> None:
        """Copy into a temporary file beside `output`, renamed to it once complete: a fetch
        that fails midway leaves no partial file (and an earlier one as it was)."""
        folder = os.path.dirname(os.path.abspath(output))
        descriptor, temporary = tempfile.mkstemp(prefix=".bitstore-get-", dir=folder)
        try:
            with os.fdopen(descriptor, "wb") as file:
                shutil.copyfileobj(blob, file)
                blob.read(1)  # at the end: a verifying stream checks the SHA1 here
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # as `open` would have made it, not 0600
            os.replace(temporary, output)
        except BaseException:
            os.unlink(temporary)
            raise

    def _binary_stdout(self):
        """The byte stream under this command's stdout (call_command(stdout=...) included)."""
        stream = self.stdout._out
        return getattr(stream, "buffer", stream)
