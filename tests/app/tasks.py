"""A task of the project's own, as any app would write one: it knows nothing of the ledger."""

from pathlib import Path

from celery import shared_task

import bitstore_app


@shared_task(bind=True)
def read_blob(self, sha1, done_folder=None):
    """Read the blob; then, when asked, leave a file named after the task in `done_folder`."""
    size = len(bitstore_app.get(sha1))
    if done_folder:
        (Path(done_folder) / self.request.id).write_text(str(size))
    return size
