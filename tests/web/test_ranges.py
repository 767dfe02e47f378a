"""Range requests against Python slicing, on random offsets, from a folder, S3 and GCS."""

import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitstore_app.models import Tier
from tests.web.conftest import FolderTier, blob_of, blob_url, body

pytestmark = pytest.mark.django_db

SIZE = 100_003  # not a round number: ranges ending at the last byte are not aligned
DATA = os.urandom(SIZE)

offsets = st.integers(min_value=0, max_value=SIZE - 1)
examples = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(params=["filesystem", "s3", "gs"])
def tier_with_blob(request, tmp_path):
    """The blob DATA in a tier of each kind that streams without buffering."""
    if request.param == "filesystem":
        FolderTier(tmp_path / "tier").add(DATA)
    elif request.param == "gs":
        gcs = request.getfixturevalue("gcs_server")
        bucket = gcs.make_bucket(f"ranges-{uuid.uuid4().hex[:12]}")
        gcs.client().bucket(bucket).blob(f"blobs/{blob_of(DATA)}").upload_from_string(DATA)
        Tier.objects.create(name="gs", kind="gs", location=f"gs://{bucket}/blobs/")
    else:
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.make_bucket(f"ranges-{uuid.uuid4().hex[:12]}")
        s3.client().put_object(Bucket=bucket, Key=f"blobs/{blob_of(DATA)}", Body=DATA)
        Tier.objects.create(
            name="s3",
            kind="s3",
            location=f"s3://{bucket}/blobs/",
            options={"endpoint_url": s3.endpoint},
        )
    return blob_of(DATA)


def fetch(client, sha1, header):
    response = client.get(blob_url(sha1), headers={"Range": header})
    return response, body(response)


@examples
@given(first=offsets, length=st.integers(min_value=1, max_value=SIZE))
def test_first_last_ranges_match_slicing(reader_client, tier_with_blob, first, length):
    last = first + length - 1  # may pass the end: the answer stops at the last byte
    response, content = fetch(reader_client, tier_with_blob, f"bytes={first}-{last}")
    expected = DATA[first : last + 1]
    assert response.status_code == 206
    assert content == expected
    assert response["Content-Length"] == str(len(expected))
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{SIZE}"


@examples
@given(first=offsets)
def test_open_ended_ranges_match_slicing(reader_client, tier_with_blob, first):
    response, content = fetch(reader_client, tier_with_blob, f"bytes={first}-")
    assert (response.status_code, content) == (206, DATA[first:])
    assert response["Content-Range"] == f"bytes {first}-{SIZE - 1}/{SIZE}"


@examples
@given(length=st.integers(min_value=1, max_value=SIZE + 1000))
def test_suffix_ranges_match_slicing(reader_client, tier_with_blob, length):
    response, content = fetch(reader_client, tier_with_blob, f"bytes=-{length}")
    assert (response.status_code, content) == (206, DATA[-length:])
    start = max(SIZE - length, 0)
    assert response["Content-Range"] == f"bytes {start}-{SIZE - 1}/{SIZE}"


def test_the_last_byte(reader_client, tier_with_blob):
    for header in (f"bytes={SIZE - 1}-{SIZE - 1}", f"bytes={SIZE - 1}-", "bytes=-1"):
        response, content = fetch(reader_client, tier_with_blob, header)
        assert (response.status_code, content) == (206, DATA[-1:])
        assert response["Content-Range"] == f"bytes {SIZE - 1}-{SIZE - 1}/{SIZE}"


def test_the_first_byte_and_the_whole_blob_as_a_range(reader_client, tier_with_blob):
    response, content = fetch(reader_client, tier_with_blob, "bytes=0-0")
    assert (response.status_code, content) == (206, DATA[:1])
    response, content = fetch(reader_client, tier_with_blob, "bytes=0-")
    assert (response.status_code, content, response["Content-Length"]) == (206, DATA, str(SIZE))


def test_a_range_past_the_end_gives_416(reader_client, tier_with_blob):
    for header in (f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 10}", "bytes=10000000000000000000-"):
        response, _ = fetch(reader_client, tier_with_blob, header)
        assert (response.status_code, response["Content-Range"]) == (416, f"bytes */{SIZE}")


@examples
@given(header=st.text(max_size=40))
def test_no_range_header_ever_gives_a_server_error(reader_client, tier_with_blob, header):
    header = "".join(c for c in header if c.isprintable() and c.isascii())
    response, content = fetch(reader_client, tier_with_blob, f"bytes={header}")
    assert response.status_code in (200, 206, 416)
    if response.status_code == 200:
        assert content == DATA
