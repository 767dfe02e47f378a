"""Amazon S3 (and S3-compatible) tiers, addressed as `s3://bucket/key`."""

from __future__ import annotations

import inspect
import logging
import re
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, BinaryIO

from ..clients import LazyClient
from ..exceptions import MissingExtra, NotFoundInStore, StoreNotAvailable, TierConfigError
from ..reader import StreamReader
from ..retry import TRANSIENT_STATUSES, call_with_retries
from ..store import BytesReader, Store
from ..touch import Refresher
from ..writer import BlobWriter, SpooledWriter
from . import require_bucket_location

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
URI_REGEX = re.compile(r"^s3://([^/]+)/(.+)$")
NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound", "InvalidObjectState"}
AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403"}
RANGE_CODES = {"InvalidRange", "416"}
THROTTLING_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "InternalError",
    "ServiceUnavailable",
}


class _EmptyRange(Exception):
    """The requested range holds no bytes of the blob."""


def _botocore():
    try:
        import boto3
        import boto3.exceptions
        import botocore.config
        import botocore.exceptions
    except ImportError as exc:
        raise MissingExtra("s3", "boto3", "s3") from exc
    return boto3, botocore


def _lean_session() -> Any:
    """Return a botocore session whose responses keep timestamps as the strings sent.

    Parsing `Last-Modified` into a datetime (dateutil) is a tenth of a small GET's CPU, and
    the tier reads only the length and the body. The parser defaults are botocore's own
    hook for this (`ResponseParserFactory.set_parser_defaults`) and stay in this session.
    """
    import botocore.session

    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
    return session


#: Bodies from this size on are sent after the server's "100 Continue" (see below).
EXPECT_CONTINUE_FROM = 8 * 1024 * 1024


def _expect_continue_for_large_bodies_only(client: Any, botocore: Any) -> None:
    """Send `Expect: 100-continue` with large uploads only.

    botocore asks for it on every PutObject: the body waits a round trip for the server's
    go-ahead, which saves sending a large body that would be refused, and costs a small one
    (a warmed 4 KiB blob) more time and CPU than sending it. The handlers are botocore's
    event hooks (`client.meta.events`), changed on this client alone.
    """
    import botocore.handlers
    import botocore.utils

    def expect_for_large(params: dict, **kwargs: Any) -> None:
        body = params.get("body")
        if body is None:
            return
        size = botocore.utils.determine_content_length(body)  # None: a stream of unknown size
        if size is None or size >= EXPECT_CONTINUE_FROM:
            params["headers"]["Expect"] = "100-continue"

    events = client.meta.events
    events.unregister("before-call.s3", botocore.handlers.add_expect_header)
    events.register("before-call.s3.PutObject", expect_for_large)


def _transient(exc: BaseException) -> bool:
    """Return whether an S3 error is worth another try: throttling, a 5xx, or a refused or
    dropped connection; never a timeout, 403 or 404."""
    _, botocore = _botocore()
    errors = botocore.exceptions
    if isinstance(exc, errors.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        return status in TRANSIENT_STATUSES or code in THROTTLING_CODES
    if isinstance(exc, errors.ConnectTimeoutError | errors.ReadTimeoutError):
        return False
    return isinstance(exc, errors.ConnectionError | errors.ConnectionClosedError)


def _check_session_arguments(credentials: Any) -> None:
    """Refuse credentials `boto3.Session` would refuse at the first fetch, naming the keys,
    never their values."""
    if credentials is None or credentials == ANONYMOUS:
        return
    if not isinstance(credentials, dict):
        raise TierConfigError(
            "S3 credentials must be a JSON object of boto3.Session arguments, 'anonymous', or "
            f"empty for the default chain, not {type(credentials).__name__}",
            "credentials",
        )
    boto3, _ = _botocore()
    accepted = set(inspect.signature(boto3.Session.__init__).parameters) - {"self"}
    unknown = sorted(set(credentials) - accepted)
    if unknown:
        raise TierConfigError(
            f"the S3 credentials hold key(s) boto3.Session does not accept: {', '.join(unknown)}"
            f" (it accepts: {', '.join(sorted(accepted))})",
            "credentials",
        )


def _cut_short(exc: BaseException) -> bool:
    """Return whether reading a body failed midway (worth reading it again); a failure of
    the request itself was retried already, in `_call`."""
    if not isinstance(exc, StoreNotAvailable) or exc.__cause__ is None:
        return False
    import urllib3

    _, botocore = _botocore()
    errors = botocore.exceptions
    cut = (errors.IncompleteReadError, errors.ResponseStreamingError, urllib3.exceptions.HTTPError)
    return isinstance(exc.__cause__, cut + (ConnectionError,)) and not isinstance(
        exc.__cause__, errors.ReadTimeoutError | urllib3.exceptions.TimeoutError
    )


class S3Raw(LazyClient, Store):
    """Objects in S3 buckets.

    `credentials`: None for boto3's default chain, a dict of `boto3.Session` keyword arguments,
    a list of those tried in order (the next one is used when S3 refuses the current one), or
    `"anonymous"` for public buckets. The endpoint comes from `endpoint_url`, else from the
    standard `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` variables. Transient errors are
    retried up to `retries` times (see `core.retry`; botocore's own retries are off).

    With `touch_interval` (seconds), a hit on an object whose `Last-Modified` is at least
    that old copies the object onto itself, which makes it new again: a bucket lifecycle
    rule that expires objects some days after their creation then removes what is cold, not
    what is hot (a cache level in a bucket; see `core.touch`).
    """

    URI_REGEX = URI_REGEX
    URI_HINT = "s3://bucket/..."
    LOCATION_HINT = "s3://bucket/prefix/"
    TIER_TIMEOUTS = True

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        require_bucket_location(location, "s3://")
        return [credentials], {}

    def __init__(
        self,
        credentials: Any = None,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        retries: int = 2,
        pool_size: int = 32,
        touch_interval: float | None = None,
    ) -> None:
        self.credentials = credentials if isinstance(credentials, list) else [credentials]
        if not self.credentials:
            raise ValueError("S3Raw needs at least one set of credentials (None means default)")
        for entry in self.credentials:
            _check_session_arguments(entry)
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.pool_size = pool_size
        self.refresher = Refresher(touch_interval) if touch_interval is not None else None
        self._credentials_index = 0

    @classmethod
    def anonymous(cls, **options: Any) -> S3Raw:
        return cls(ANONYMOUS, **options)

    def describe(self) -> str:
        return "S3Raw" + (f"({self.endpoint_url})" if self.endpoint_url else "")

    def is_valid(self, uri: str) -> bool:
        return isinstance(uri, str) and URI_REGEX.match(uri) is not None

    def make_client(self) -> Any:
        boto3, botocore = _botocore()
        credentials = self.credentials[self._credentials_index]
        config = botocore.config.Config(
            max_pool_connections=self.pool_size,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},  # retried in _call
            # Every request's parameters come from `_call`: a bucket and a key that URI_REGEX
            # matched (non-empty strings), a Range it formats, bytes for a Body. botocore's
            # check of them could fail nothing and cost about 3% of a small GET's CPU.
            parameter_validation=False,
        )
        if credentials == ANONYMOUS:
            config = config.merge(botocore.config.Config(signature_version=botocore.UNSIGNED))
            credentials = {}
        session = boto3.Session(**(credentials or {}), botocore_session=_lean_session())
        try:
            client = session.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region_name, config=config
            )
        except Exception as exc:
            raise StoreNotAvailable(self, f"cannot create an S3 client: {exc}") from exc
        _expect_continue_for_large_bodies_only(client, botocore)
        return client

    def _call(self, uri: str, method: str, before: Any = None, **kwargs: Any) -> dict:
        """Call `client.method(Bucket=..., Key=..., **kwargs)` with retries, after `before()`
        on each attempt; translate S3's errors."""
        self.check_uri(uri)
        bucket, key = URI_REGEX.match(uri).groups()
        boto3, botocore = _botocore()
        while True:
            client = self.client()
            operation = partial(getattr(client, method), Bucket=bucket, Key=key, **kwargs)
            try:
                return call_with_retries(
                    operation if before is None else _after(before, operation),
                    retries=self.retries,
                    transient=_transient,
                    what=f"{method} {uri}",
                )
            except botocore.exceptions.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if code in NOT_FOUND_CODES:
                    raise NotFoundInStore(self, uri) from None
                if code in RANGE_CODES:
                    raise _EmptyRange from None
                if code in AUTH_CODES and self.replace_client(client, self._next_credentials):
                    continue
                raise StoreNotAvailable(self, f"{method} {uri}: {code}") from exc
            except (
                botocore.exceptions.BotoCoreError,
                boto3.exceptions.S3UploadFailedError,
                OSError,
            ) as exc:
                raise StoreNotAvailable(self, f"{method} {uri}: {exc}") from exc

    def _next_credentials(self) -> bool:
        if self._credentials_index + 1 >= len(self.credentials):
            return False
        self._credentials_index += 1
        return True

    def get(self, uri: str) -> bytes:
        """Return the whole blob; a body cut short is asked for again, up to `retries`."""

        def whole() -> tuple[bytes, dict]:
            # The body in one read: through the streaming adapter a 10 MiB blob took over a
            # thousand 8 KiB reads.
            response = self._call(uri, "get_object")
            try:
                return self._read(uri, response["Body"]), response
            finally:
                response["Body"].close()

        data, response = call_with_retries(
            whole, retries=self.retries, transient=_cut_short, what=f"reading {uri}"
        )
        self._touched(uri, response)
        return data

    def _touched(self, uri: str, response: dict) -> None:
        """Refresh the object's time after a hit, when it is due (see `touch_interval`); a
        failure is logged, never raised: the read has succeeded."""
        if self.refresher is None or not self.refresher.due(uri, _epoch(response)):
            return
        bucket, key = URI_REGEX.match(uri).groups()
        source = {"Bucket": bucket, "Key": key}
        try:
            self._call(uri, "copy_object", CopySource=source, MetadataDirective="REPLACE")
        except (NotFoundInStore, StoreNotAvailable) as exc:
            logger.warning("%s: could not refresh the time of %s: %s", self, uri, exc)

    def _read(self, uri: str, body: BinaryIO) -> bytes:
        import urllib3

        _, botocore = _botocore()
        try:
            return body.read()
        except (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreNotAvailable(self, f"reading {uri}: {exc}") from exc

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        kwargs = {}
        if end is not None and end <= start:
            return self._empty(uri)  # S3 would ignore such a range and send the whole blob
        if start < 0:
            kwargs["Range"] = f"bytes={start}"  # a suffix: S3 sends the last -start bytes
        elif start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = self._call(uri, "get_object", **kwargs)
        except _EmptyRange:
            return self._empty(uri)  # the range starts at or after the end of the blob
        content_range = response.get("ContentRange")
        size = int(content_range.rsplit("/", 1)[1]) if content_range else response["ContentLength"]
        self._touched(uri, response)
        import urllib3

        _, botocore = _botocore()
        transport = (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, OSError)
        return StreamReader(response["Body"], size, store=self, errors=transport)

    def _empty(self, uri: str) -> BinaryIO:
        reader = BytesReader(b"")
        reader.size = self._call(uri, "head_object")["ContentLength"]
        return reader

    def exists(self, uri: str) -> bool:
        try:
            self._call(uri, "head_object")
        except NotFoundInStore:
            return False
        return True

    def put(self, uri: str, data: bytes) -> None:
        self._call(uri, "put_object", Body=data)

    def delete(self, uri: str) -> None:
        self._call(uri, "delete_object")

    def open_writer(self, uri: str) -> BlobWriter:
        self.check_uri(uri)
        return SpooledWriter(partial(self._upload, uri))

    def _upload(self, uri: str, file: BinaryIO) -> None:
        """Upload a file in parts (boto3's transfer manager: constant memory)."""
        kept = _KeepOpen(file)  # s3transfer closes the file after a failed try: retries reread it
        self._call(uri, "upload_fileobj", before=partial(file.seek, 0), Fileobj=kept)


def _epoch(response: dict) -> float | None:
    """Return an S3 answer's Last-Modified in seconds since the epoch (the tier's session
    keeps it as the header's text), or None."""
    value = response.get("LastModified")
    if value is None:
        return None
    try:
        return (value if hasattr(value, "timestamp") else parsedate_to_datetime(value)).timestamp()
    except (TypeError, ValueError):
        return None


class _KeepOpen:
    """A file whose `close` does nothing; its owner closes the real one."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _after(before: Any, operation: Any) -> Any:
    def call() -> Any:
        before()
        return operation()

    return call
