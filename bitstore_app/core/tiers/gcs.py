"""Google Cloud Storage tiers, addressed as `gs://bucket/key`."""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime
from functools import partial
from typing import Any, BinaryIO

from ..clients import LazyClient
from ..exceptions import MissingExtra, NotFoundInStore, StoreNotAvailable, TierConfigError
from ..reader import RangeReader
from ..retry import TRANSIENT_STATUSES, call_with_retries
from ..store import Store
from ..touch import Refresher
from ..writer import BlobWriter, SpooledWriter
from . import require_bucket_location

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
URI_REGEX = re.compile(r"^gs://([^/]+)/(.+)$")


def _gcs():
    try:
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import storage
    except ImportError as exc:
        raise MissingExtra("gs", "google-cloud-storage", "gcs") from exc
    return storage, api_exceptions, auth_exceptions


def _transient(exc: BaseException) -> bool:
    """Return whether a GCS error is worth another try: a 429 or 5xx, or a refused or
    dropped connection; never a timeout, 403 or 404."""
    import requests
    import urllib3

    _, api_exceptions, _ = _gcs()
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in TRANSIENT_STATUSES
    if isinstance(exc, requests.Timeout) or any(
        isinstance(arg, urllib3.exceptions.TimeoutError) for arg in exc.args
    ):
        return False
    return isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError)


class GSRaw(LazyClient, Store):
    """Objects in GCS buckets.

    `credentials`: None for Google's default credentials, a `google.auth` credentials object,
    or `"anonymous"` for public buckets. The endpoint comes from `endpoint`, else from the
    standard `STORAGE_EMULATOR_HOST` variable. A transient failure is retried up to
    `retries` times within `retry_timeout` seconds (see `core.retry`; the SDK's own retries,
    two minutes by default, are off).

    With `touch_interval` (seconds), what the tier writes gets a Custom-Time, and a hit sets
    it to now again at most once per interval (see `core.touch`): a bucket lifecycle rule on
    `daysSinceCustomTime` then removes what is cold, not what is hot (a cache level in a
    bucket). A download does not say the object's Custom-Time, so a `get` refreshes when this
    process has not refreshed that object within the interval.
    """

    URI_REGEX = URI_REGEX
    URI_HINT = "gs://bucket/..."
    LOCATION_HINT = "gs://bucket/prefix/"
    TIER_TIMEOUTS = True

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        require_bucket_location(location, "gs://")
        return [_google_credentials(credentials)], {}

    def __init__(
        self,
        credentials: Any = None,
        *,
        project: str | None = None,
        endpoint: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        retries: int = 2,
        retry_timeout: float = 10,
        pool_size: int = 32,
        touch_interval: float | None = None,
    ) -> None:
        self.credentials = credentials
        self.project = project
        self.endpoint = endpoint
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.retry_timeout = retry_timeout
        self.pool_size = pool_size
        self.refresher = Refresher(touch_interval) if touch_interval is not None else None

    @classmethod
    def anonymous(cls, **options: Any) -> GSRaw:
        return cls(ANONYMOUS, **options)

    def describe(self) -> str:
        return "GSRaw" + (f"({self.endpoint})" if self.endpoint else "")

    def is_valid(self, uri: str) -> bool:
        return isinstance(uri, str) and URI_REGEX.match(uri) is not None

    def make_client(self) -> Any:
        storage, _, _ = _gcs()
        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        try:
            if self.credentials == ANONYMOUS:
                client = storage.Client.create_anonymous_client()
                if options:
                    client = storage.Client(
                        project="<none>", credentials=client._credentials, client_options=options
                    )
            else:
                project = self.project or getattr(self.credentials, "project_id", None)
                client = storage.Client(
                    project=project, credentials=self.credentials, client_options=options
                )
        except Exception as exc:
            raise StoreNotAvailable(self, f"cannot create a GCS client: {exc}") from exc
        self._size_pool(client)
        return client

    def _size_pool(self, client: Any) -> None:
        from requests.adapters import HTTPAdapter

        # requests keeps 10 connections per host by default: too few for 16 threads.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_size)
        client._http.mount("https://", adapter)
        client._http.mount("http://", adapter)

    def _blob(self, uri: str) -> Any:
        self.check_uri(uri)
        bucket, key = URI_REGEX.match(uri).groups()
        return self.client().bucket(bucket).blob(key)

    def _translate(self, uri: str, action, *args: Any, **kwargs: Any) -> Any:
        import requests

        _, api_exceptions, auth_exceptions = _gcs()
        try:
            return call_with_retries(
                lambda: action(*args, timeout=self.timeout, retry=None, **kwargs),
                retries=self.retries,
                transient=_transient,
                deadline=self.retry_timeout,
                what=uri,
            )
        except api_exceptions.NotFound as exc:
            # Drop the traceback: it can keep a previous download alive until the next GC.
            exc.__traceback__ = None
            raise NotFoundInStore(self, uri) from None
        except (
            api_exceptions.GoogleAPIError,
            auth_exceptions.GoogleAuthError,
            requests.RequestException,
            OSError,
        ) as exc:
            raise StoreNotAvailable(self, f"{uri}: {exc}") from exc

    def get(self, uri: str) -> bytes:
        blob = self._blob(uri)
        data = self._translate(uri, blob.download_as_bytes, checksum=None)
        self._touched(uri, blob)
        return data

    def _touched(self, uri: str, blob: Any, known: datetime | None = None) -> None:
        """Set the object's Custom-Time to now after a hit, when it is due (see
        `touch_interval`); a failure is logged, never raised: the read has succeeded."""
        if self.refresher is None:
            return
        if not self.refresher.due(uri, known.timestamp() if known is not None else None):
            return
        blob.custom_time = datetime.now(UTC)
        try:
            self._translate(uri, blob.patch)
        except (NotFoundInStore, StoreNotAvailable) as exc:
            logger.warning("%s: could not refresh the time of %s: %s", self, uri, exc)

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        blob = self._blob(uri)
        self._translate(uri, blob.reload)
        self._touched(uri, blob, blob.custom_time)

        def fetch(first: int, last: int) -> bytes:
            return self._translate(
                uri, blob.download_as_bytes, start=first, end=last, checksum=None
            )

        return RangeReader(fetch, blob.size, start, end)

    def exists(self, uri: str) -> bool:
        blob = self._blob(uri)
        return self._translate(uri, blob.exists)

    def put(self, uri: str, data: bytes) -> None:
        blob = self._new_blob(uri)
        self._translate(uri, blob.upload_from_string, data)

    def _new_blob(self, uri: str) -> Any:
        """The object a write makes: with `touch_interval`, its Custom-Time is now."""
        blob = self._blob(uri)
        if self.refresher is not None:
            blob.custom_time = datetime.now(UTC)
            self.refresher.note(uri)
        return blob

    def delete(self, uri: str) -> None:
        blob = self._blob(uri)
        try:
            self._translate(uri, blob.delete)
        except NotFoundInStore:
            pass  # gone already

    def open_writer(self, uri: str) -> BlobWriter:
        self.check_uri(uri)
        return SpooledWriter(partial(self._upload, uri))

    def _upload(self, uri: str, file: BinaryIO) -> None:
        """Upload a file; past 8 MiB the SDK sends it in chunks (a resumable upload)."""
        size = file.seek(0, os.SEEK_END)
        blob = self._new_blob(uri)
        self._translate(uri, blob.upload_from_file, file, rewind=True, size=size)


def _google_credentials(credentials: Any) -> Any:
    """Return Google credentials for a tier's resolved reference: a service account's JSON
    (as a dict, or {"service_account_file": path}) becomes a credentials object."""
    if credentials in (None, ANONYMOUS) or not isinstance(credentials, dict):
        return credentials
    from google.oauth2 import service_account

    try:
        if "service_account_file" in credentials:
            path = credentials["service_account_file"]
            return service_account.Credentials.from_service_account_file(path)
        return service_account.Credentials.from_service_account_info(credentials)
    except (ValueError, OSError) as exc:
        raise TierConfigError(f"the GCS credentials are not usable: {exc}", "credentials") from None
