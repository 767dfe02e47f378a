"""A suffix range (`bytes=-n`) asks the serving tier once: S3 is sent one ranged GET (no
HEAD for the size first), an HTTP API one GET, a folder is opened once."""

import uuid

import pytest

from bitstore_app.models import Tier
from tests.resilience.conftest import make_blob
from tests.resilience.servers import BlobServer, FaultProxy
from tests.web.conftest import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    server = BlobServer()
    yield server
    server.stop()


def test_an_http_api_is_asked_once(reader_client, api):
    sha1, data = make_blob(size=10_000)
    api.blobs[sha1] = data
    Tier.objects.create(name="api", kind="http_api", location=api.url)
    response = reader_client.get(f"/bitstore/blobs/{sha1}", headers={"Range": "bytes=-5"})
    assert (response.status_code, body(response)) == (206, data[-5:])
    assert response["Content-Range"] == f"bytes {len(data) - 5}-{len(data) - 1}/{len(data)}"
    assert api.requests[sha1] == 1


@pytest.mark.parametrize("length", [5, 10_000, 20_000])
def test_s3_is_sent_one_ranged_get(reader_client, s3_server, length):
    bucket = s3_server.make_bucket(f"suffix-{uuid.uuid4().hex[:10]}")
    proxy = FaultProxy(s3_server.port)
    sha1, data = make_blob(size=10_000)
    s3_server.client().put_object(Bucket=bucket, Key=f"b/{sha1}", Body=data)
    Tier.objects.create(
        name="s3",
        kind="s3",
        location=f"s3://{bucket}/b/",
        options={"endpoint_url": proxy.endpoint},
    )
    try:
        response = reader_client.get(
            f"/bitstore/blobs/{sha1}", headers={"Range": f"bytes=-{length}"}
        )
        assert response.status_code == 206
        assert body(response) == data[-length:]
        start = max(len(data) - length, 0)
        assert response["Content-Range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
        assert dict(proxy.seen) == {"GET": 1}
    finally:
        proxy.stop()


def test_a_folder_serves_suffixes_longer_and_shorter_than_the_blob(reader_client, tmp_path):
    sha1, data = make_blob(size=1000)
    (tmp_path / sha1).write_bytes(data)
    Tier.objects.create(name="disk", kind="filesystem", location=str(tmp_path))
    for length in (1, 999, 1000, 5000):
        response = reader_client.get(
            f"/bitstore/blobs/{sha1}", headers={"Range": f"bytes=-{length}"}
        )
        assert (response.status_code, body(response)) == (206, data[-length:])
        head = reader_client.head(f"/bitstore/blobs/{sha1}", headers={"Range": f"bytes=-{length}"})
        assert (head.status_code, head["Content-Length"]) == (206, str(min(length, 1000)))
