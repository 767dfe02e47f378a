"""A task of the project's own, as any app would write one: it knows nothing of the ledger."""

from celery import shared_task

import bitstore_app


@shared_task
def read_blob(sha1):
    return len(bitstore_app.get(sha1))
