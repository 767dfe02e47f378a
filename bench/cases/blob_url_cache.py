"""Case 9: the blob URL's first and second fetch of a blob from a slow write-back HTTP API:
the first is served by the API (and streams into the filesystem cache), the second by the
cache. The API (`bench.api_source`) sits behind a loopback proxy that holds each connection
50 ms, as a paid API across a network would; the blob URL is called through Django's test
client with a signed URL, in this process."""

from __future__ import annotations

import json
import time
import urllib.request

from ..data import KIB, blobs, sha1
from ..django_env import make_tiers, setup
from ..report import CaseResult
from ..servers import api_source, latency_proxy
from ..timing import Stats

TITLE = "blob URL: first fetch (slow write-back API) vs second (filesystem cache), ms"
DELAY_MS = 50
SIZE = 256 * KIB
TAG = "url"
#: The second fetch must cost at most this fraction of the first.
TARGET = 0.2


def run(bench) -> CaseResult:
    setup(bench.folder)
    from django.test import Client

    from bitstore_app.signed_urls import signed_blob_url

    case = CaseResult(9, TITLE)
    count = max(3, bench.sizes.django_blobs // 10)
    items = blobs(TAG, count, SIZE)
    client = Client()
    with api_source(count, SIZE, TAG) as api, latency_proxy(api, DELAY_MS) as slow:
        make_tiers(
            [
                {
                    "name": "url-cache",
                    "kind": "filesystem",
                    "role": "cache",
                    "location": str(bench.folder / "url-cache"),
                },
                {
                    "name": "slow-api",
                    "kind": "http_api",
                    "location": slow.endpoint,
                    "write_back": True,
                },
            ]
        )
        first, second = [], []
        for data in items:
            url = signed_blob_url(sha1(data))
            for samples in (first, second):
                started = time.perf_counter()
                response = client.get(url)
                body = b"".join(response.streaming_content)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and body == data
        served = _served(api.endpoint)
    base = case.add("first fetch: the API, teed into the cache", Stats.of(first, "ms"))
    row = case.add("second fetch: the cache", Stats.of(second, "ms"), base)
    case.target(f"second fetch <= {TARGET}x the first", row.ratio, row.ratio <= TARGET)
    case.notes.append(f"{count} blobs of {SIZE // KIB} KiB; the API served {served} requests")
    if served != count:
        case.notes.append("the API was asked more than once for some blob")
    return case


def _served(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_stats", timeout=10) as answer:
        return json.load(answer)["served"]
