"""A generic API source: GET `{base_url}/{sha1}` over HTTP."""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from ..clients import LazyClient
from ..exceptions import NotFoundInStore, StoreNotAvailable, TierConfigError
from ..reader import StreamReader, VerifyingReader, WindowReader
from ..retry import TRANSIENT_STATUSES, call_with_retries
from ..sha1 import Sha1APISource
from ..store import BytesReader

#: Statuses of a server that does not implement HEAD.
NO_HEAD = (405, 501)


class _TransientStatus(Exception):
    """The API answered with a status worth another try (429 or 5xx)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _transient(exc: BaseException) -> bool:
    """Return whether a request error is worth another try: a refused or dropped connection,
    or a 429/5xx answer; never a timeout."""
    import requests
    import urllib3

    if isinstance(exc, _TransientStatus):
        return True
    if isinstance(exc, requests.Timeout) or any(
        isinstance(arg, urllib3.exceptions.TimeoutError) for arg in exc.args
    ):
        return False
    return isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError)


class HTTPAPISource(LazyClient, Sha1APISource):
    """Blobs served by an HTTP API: 200 is the blob, 404 is "not found", and 5xx, other
    refusals and timeouts are "not available". Dropped connections, 429 and 5xx answers are
    retried up to `retries` times (see `core.retry`)."""

    LOCATION_HINT = "a base URL such as https://api.example.org/blobs"
    TIER_TIMEOUTS = True

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        if not location.startswith(("http://", "https://")):
            raise TierConfigError(
                "the location must be a base URL such as https://api.example.org/blobs",
                "location",
            )
        # Credentials of an API are the headers that carry them (a token, say).
        headers = credentials.get("headers", {}) if isinstance(credentials, dict) else None
        return [location], {} if headers is None else {"headers": headers}

    def __init__(
        self,
        base_url: str,
        *,
        url_template: str = "{base_url}/{sha1}",
        headers: dict[str, str] | None = None,
        verify: bool = False,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        retries: int = 2,
        pool_size: int = 32,
    ) -> None:
        super().__init__(verify=verify)
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        if "{sha1}" not in url_template:
            raise ValueError(f"url_template must contain {{sha1}}, not {url_template!r}")
        self.base_url = base_url.rstrip("/")
        self.url_template = url_template
        self.url("0" * 40)  # an unknown placeholder fails here, not at every fetch
        self.headers = dict(headers or {})
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.pool_size = pool_size
        self._head_works = True

    def describe(self) -> str:
        return self.base_url

    def make_client(self) -> Any:
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=self.pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(self.headers)
        # requests reads the environment (proxy variables, .netrc, the CA bundle) again for
        # every request: a third of the CPU of fetching a small blob. This tier talks to one
        # host, so the same settings are read once, here, when a process makes its client.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.auth = requests.utils.get_netrc_auth(self.base_url)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        session.verify = bundle or True
        session.trust_env = False
        return session

    def url(self, sha1: str) -> str:
        try:
            return self.url_template.format(base_url=self.base_url, sha1=sha1)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"url_template {self.url_template!r} cannot be rendered: only {{base_url}} and "
                f"{{sha1}} are known ({type(exc).__name__}: {exc})"
            ) from None

    def _request(
        self, sha1: str, method: str = "GET", read: bool = False, accept=(200,), **kwargs: Any
    ):
        """Send the request (retrying transient errors) and return the response, or None for
        a 404; with `read`, the body is read inside the retries, so that a body cut short is
        asked for again."""
        import requests

        def send():
            response = self.client().request(method, url, timeout=self.timeout, **kwargs)
            if response.status_code in TRANSIENT_STATUSES:
                response.close()
                raise _TransientStatus(response.status_code)
            if read and response.status_code == 200:
                response.content  # noqa: B018 - reads the body; a short one raises here
            return response

        url = self.url(sha1)
        try:
            response = call_with_retries(
                send, retries=self.retries, transient=_transient, what=f"{method} {url}"
            )
        except (requests.RequestException, _TransientStatus) as exc:
            raise StoreNotAvailable(self, f"{method} {sha1}: {exc}") from exc
        if response.status_code == 404:
            response.close()
            return None
        if response.status_code not in accept:
            response.close()
            raise StoreNotAvailable(self, f"{method} {sha1}: HTTP {response.status_code}")
        return response

    def api_get(self, sha1: str) -> bytes | None:
        response = self._request(sha1, read=True)
        return None if response is None else response.content

    def exists(self, sha1: str) -> bool:
        """Ask with HEAD; a server that has no HEAD (405, 501) is asked for one byte."""
        self.check_uri(sha1)
        if self._head_works:
            response = self._request(sha1.lower(), "HEAD", accept=(200, *NO_HEAD))
            if response is None or response.status_code not in NO_HEAD:
                return response is not None
            self._head_works = False  # asked once per process; the API will not grow HEAD
        response = self._request(
            sha1.lower(), headers={"Range": "bytes=0-0"}, accept=(200, 206), stream=True
        )
        if response is not None:
            response.close()  # a server that ignores Range sent a 200: the body is not read
        return response is not None

    def open(self, sha1: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """Stream the blob, or bytes [start, end) of it (`start` < 0: the last -start bytes),
        without holding it in memory: a range is asked for with a Range header, and read out
        of the whole body when the server ignores it. With `verify`, a whole blob is checked
        as it passes."""
        self.check_uri(sha1)
        whole = start == 0 and end is None
        if end is not None and end <= start:  # nothing to read: one byte says the size
            asked = "bytes=0-0"
        elif start < 0:
            asked = f"bytes={start}"
        else:
            asked = f"bytes={start}-{'' if end is None else end - 1}"
        headers = {} if whole else {"Range": asked}
        accept = (200,) if whole else (200, 206, 416)
        response = self._request(sha1.lower(), headers=headers, accept=accept, stream=True)
        if response is None:
            raise NotFoundInStore(self, sha1)
        reader = self._reader(response, start, end)
        if reader is None:  # the answer does not say the blob's size
            response.close()
            return super().open(sha1, start, end)
        if whole and self.verify:
            return VerifyingReader(reader, sha1.lower(), str(self))
        return reader

    def _reader(self, response: Any, start: int, end: int | None) -> BinaryIO | None:
        """Return a reader of bytes [start, end) of the blob in `response` whose `size` is
        the whole blob's, or None when the answer does not say that size."""
        import urllib3

        if response.status_code == 200:
            size = int(response.headers.get("Content-Length", -1))
        else:  # 206, or 416: the range starts at or after the end of the blob
            size = _total_size(response.headers.get("Content-Range", ""))
        if size < 0:
            return None
        first = min(max(size + start, 0) if start < 0 else start, size)
        last = size if end is None else min(max(end, first), size)
        if response.status_code == 416 or last == first:
            response.close()
            empty = BytesReader(b"")
            empty.size = size
            return empty
        errors = (urllib3.exceptions.HTTPError, OSError)
        reader = StreamReader(response.raw, size, store=self, errors=errors)
        if response.status_code == 206:
            sent = response.headers["Content-Range"].split()[-1].split("-")[0]
            if sent != str(first):  # not the range asked for: read it out of the whole body
                return None
            return WindowReader(reader, 0, last - first)
        if first == 0 and last == size:
            return reader
        return WindowReader(reader, first, last - first)


def _total_size(content_range: str) -> int:
    """Return the blob's size a Content-Range header gives (`bytes 0-9/1000`,
    `bytes */1000`), or -1."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else -1
