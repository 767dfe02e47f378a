"""GET and HEAD /blobs/<sha1> through Django's test client: every status code and header."""

import json
import time

import pytest
from django.test import Client

from bitstore_app import ledger
from bitstore_app.core import InvalidDataFound
from bitstore_app.models import FetchRecord, Tier
from tests.web.conftest import FolderTier, blob_of, blob_url, body, make_user

pytestmark = pytest.mark.django_db

DATA = b"the quick brown fox jumps over the lazy dog\n" * 100


def error_of(response):
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)["error"]


def recorded():
    ledger.buffer.flush()
    return list(FetchRecord.objects.order_by("id"))


def test_get_streams_the_whole_blob_with_its_headers(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1))
    assert response.status_code == 200
    assert response.streaming
    assert body(response) == DATA
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["ETag"] == f'"{sha1}"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Disposition" not in response


def test_an_upper_case_sha1_is_the_same_blob(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1.upper()))
    assert response.status_code == 200
    assert response["ETag"] == f'"{sha1}"'
    assert body(response) == DATA


def test_an_empty_blob(reader_client, folder_tier):
    sha1 = folder_tier.add(b"")
    response = reader_client.get(blob_url(sha1))
    assert (response.status_code, response["Content-Length"], body(response)) == (200, "0", b"")


def test_head_sends_the_headers_and_no_body(reader_client, folder_tier, reader):
    sha1 = folder_tier.add(DATA)
    response = reader_client.head(blob_url(sha1))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response["ETag"] == f'"{sha1}"'
    assert response.content == b""
    [record] = recorded()
    assert (record.outcome, record.size, record.user_id) == ("hit", 0, reader.pk)


def test_head_of_a_range(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.head(blob_url(sha1), headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response["Content-Length"] == "10"
    assert response["Content-Range"] == f"bytes 10-19/{len(DATA)}"
    assert response.content == b""


def test_a_range_gives_206_with_its_content_range(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1), headers={"Range": "bytes=5-14"})
    assert response.status_code == 206
    assert body(response) == DATA[5:15]
    assert response["Content-Range"] == f"bytes 5-14/{len(DATA)}"
    assert response["Content-Length"] == "10"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-10"])
def test_several_ranges_or_another_unit_give_the_whole_blob(reader_client, folder_tier, header):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1), headers={"Range": header})
    assert (response.status_code, body(response)) == (200, DATA)
    assert "Content-Range" not in response


def test_if_range_with_the_etag_honours_the_range_and_any_other_value_does_not(
    reader_client, folder_tier
):
    sha1 = folder_tier.add(DATA)
    same = {"Range": "bytes=0-3", "If-Range": f'"{sha1}"'}
    other = {"Range": "bytes=0-3", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert reader_client.get(blob_url(sha1), headers=same).status_code == 206
    response = reader_client.get(blob_url(sha1), headers=other)
    assert (response.status_code, body(response)) == (200, DATA)


@pytest.mark.parametrize(
    "header",
    [f"bytes={len(DATA)}-", f"bytes={len(DATA) + 5}-{len(DATA) + 9}", "bytes=-0", "bytes=9-3"]
    + ["bytes=abc", "bytes=-", "bytes", "bytes=1-2-3", "bytes=" + "9" * 5000 + "-"],
)
def test_an_unsatisfiable_or_malformed_byte_range_gives_416(reader_client, folder_tier, header):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1), headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert "range" in error_of(response)


def test_any_range_of_an_empty_blob_gives_416(reader_client, folder_tier):
    sha1 = folder_tier.add(b"")
    for header in ("bytes=0-", "bytes=-5", "bytes=0-0"):
        response = reader_client.get(blob_url(sha1), headers={"Range": header})
        assert (response.status_code, response["Content-Range"]) == (416, "bytes */0")


@pytest.mark.parametrize("tag", ['"{sha1}"', 'W/"{sha1}"', '"other", "{sha1}"', "*"])
def test_if_none_match_with_the_etag_gives_304(reader_client, folder_tier, tag):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1), headers={"If-None-Match": tag.format(sha1=sha1)})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{sha1}"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"


def test_if_none_match_with_another_etag_sends_the_blob(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    other = f'"{blob_of(b"other")}"'
    response = reader_client.get(blob_url(sha1), headers={"If-None-Match": other})
    assert (response.status_code, body(response)) == (200, DATA)


def test_if_none_match_any_for_a_missing_blob_gives_404(reader_client, folder_tier):
    response = reader_client.get(blob_url(blob_of(b"absent")), headers={"If-None-Match": "*"})
    assert response.status_code == 404


def test_a_malformed_sha1_gives_400(reader_client, folder_tier):
    response = reader_client.get(blob_url("not-a-sha1"))
    assert response.status_code == 400
    assert "not a SHA1" in error_of(response)
    assert reader_client.get(blob_url("a" * 41)).status_code == 400


def test_an_anonymous_request_gives_401(folder_tier):
    sha1 = folder_tier.add(DATA)
    response = Client().get(blob_url(sha1))
    assert response.status_code == 401
    assert "authentication required" in error_of(response)
    assert response["WWW-Authenticate"]
    assert Client().get(blob_url("not-a-sha1")).status_code == 401  # nothing before the login


def test_a_user_without_the_permission_gives_403(client_of, folder_tier):
    sha1 = folder_tier.add(DATA)
    client = client_of(make_user("someone", "warm"))
    response = client.get(blob_url(sha1))
    assert response.status_code == 403
    assert "bitstore_app.view_blob" in error_of(response)


def test_a_missing_blob_gives_404_and_is_recorded(reader_client, folder_tier, reader):
    sha1 = blob_of(b"nobody has this")
    response = reader_client.get(blob_url(sha1))
    assert response.status_code == 404
    assert error_of(response) == f"no tier holds blob {sha1}"
    [record] = recorded()
    assert (record.sha1, record.outcome, record.user_id) == (sha1, "not_found", reader.pk)


def test_a_missing_blob_while_a_tier_is_down_gives_503(
    reader_client, folder_tier, closed_port, aws_env
):
    # A real S3 tier whose endpoint refuses connections, in front of a folder without the blob.
    Tier.objects.create(
        name="s3-down",
        kind="s3",
        location="s3://bucket/blobs/",
        options={"endpoint_url": f"http://127.0.0.1:{closed_port}"},
        connect_timeout=0.5,
        read_timeout=0.5,
        position=1,
    )
    sha1 = blob_of(b"not in the folder")
    started = time.monotonic()
    response = reader_client.get(blob_url(sha1))
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "1 tier(s) could not be asked" in error_of(response)
    [record] = recorded()
    assert record.outcome == "error"
    assert [a["outcome"] for a in record.attempts] == ["not_found", "unavailable"]


def test_a_blob_is_served_by_the_first_tier_that_has_it(reader_client, tmp_path):
    first = FolderTier(tmp_path / "first", name="first", position=0)
    second = FolderTier(tmp_path / "second", name="second", position=1)
    sha1 = second.add(DATA)
    assert first.root.exists()
    response = reader_client.get(blob_url(sha1))
    assert body(response) == DATA
    [record] = recorded()
    assert (record.tier_name, record.size) == ("second", len(DATA))
    assert [a["outcome"] for a in record.attempts] == ["not_found", "hit"]


def test_the_ledger_records_who_fetched_and_the_bytes_sent(reader_client, folder_tier, reader):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1), headers={"Range": "bytes=100-199"})
    assert recorded() == []  # not yet: the stream is recorded when the response is closed
    assert body(response) == DATA[100:200]
    [record] = recorded()
    assert (record.sha1, record.outcome, record.tier_id) == (sha1, "hit", folder_tier.tier.pk)
    assert (record.user_id, record.size) == (reader.pk, 100)


def test_post_gives_405_with_the_allowed_methods(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.post(blob_url(sha1))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, PUT"  # PUT uploads (tests/web/test_uploads.py)


@pytest.mark.parametrize(
    "name, header",
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ('a "quoted" name', 'attachment; filename="a \\"quoted\\" name"'),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ("bad\r\nX-Injected: 1.txt", 'attachment; filename="badX-Injected: 1.txt"'),
        ("résumé.txt", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"),
    ],
)
def test_download_names_the_file_safely(reader_client, folder_tier, name, header):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1, download=name))
    assert response["Content-Disposition"] == header
    assert "X-Injected" not in response
    assert response["Content-Type"] == "application/octet-stream"
    assert body(response) == DATA


def test_an_empty_download_name_falls_back_to_the_sha1(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    response = reader_client.get(blob_url(sha1, download=""))
    assert response["Content-Disposition"] == f'attachment; filename="{sha1}"'


def test_a_blob_that_fails_its_sha1_check_is_cut_short_and_recorded(
    reader_client, tmp_path, bitstore_config
):
    # A verifying tier holding wrong bytes under a SHA1, larger than what is checked before
    # sending: the mismatch shows only at the end of the stream, after the headers went out;
    # the last chunk is then never sent.
    bitstore_config(VERIFY_BEFORE_SEND_MAX_BYTES=1024 * 1024)
    tier = FolderTier(tmp_path / "lying", name="lying", verify=True)
    sha1 = tier.add(b"x" * 3_000_000, sha1=blob_of(b"what the client asked for"))
    response = reader_client.get(blob_url(sha1))
    assert response.status_code == 200
    received = []
    with pytest.raises(InvalidDataFound):
        for chunk in response.streaming_content:
            received.append(chunk)
    assert len(b"".join(received)) < 3_000_000
    [record] = recorded()
    assert record.outcome == "invalid"
    assert record.attempts[0]["outcome"] == "invalid"


def test_a_small_blob_that_fails_its_sha1_check_is_never_sent(reader_client, tmp_path):
    # Up to VERIFY_BEFORE_SEND_MAX_BYTES the blob is checked before any header: no tier holds
    # the right bytes, so the answer is a 404, and the attempt is recorded invalid.
    tier = FolderTier(tmp_path / "lying", name="lying", verify=True)
    sha1 = tier.add(b"x" * 3_000_000, sha1=blob_of(b"what the client asked for"))
    response = reader_client.get(blob_url(sha1))
    assert response.status_code == 404
    [record] = recorded()
    assert record.outcome == "invalid"
    assert record.attempts[0]["outcome"] == "invalid"
