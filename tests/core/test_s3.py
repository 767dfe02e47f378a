"""The raw-store contract for `S3Raw` on moto, and its credentials and connection pool."""

import json
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from bitstore_app.core import S3Raw, StoreNotAvailable
from bitstore_app.core.tiers.s3 import EXPECT_CONTINUE_FROM
from tests.core.conftest import unique
from tests.core.contract import Outage, OutageContract, RawStoreContract
from tests.helpers import free_port, wait_for_port
from tests.loopback import LoopbackHTTPServer

#: Short timeouts, so that a closed port answers within seconds.
FAST = {"connect_timeout": 1, "read_timeout": 5}


class TestS3Raw(RawStoreContract, OutageContract):
    invalid_uris = ("", None, "gs://bucket/key", "s3://bucket", "s3://bucket/", "s3:///key", "k")

    @pytest.fixture
    def store(self, s3_server):
        return S3Raw(endpoint_url=s3_server.endpoint)

    @pytest.fixture
    def uri(self, s3_bucket):
        prefix = unique()
        return lambda name: f"s3://{s3_bucket}/{prefix}/{name}"

    @pytest.fixture
    def outage(self, own_moto):
        bucket = unique("outage")

        def start():
            own_moto.start()
            own_moto.client().create_bucket(Bucket=bucket)

        return Outage(
            store=S3Raw(endpoint_url=own_moto.endpoint, **FAST),
            uri=f"s3://{bucket}/blob",
            start=start,
            stop=own_moto.stop,
        )


def test_the_endpoint_comes_from_the_environment(s3_server, s3_bucket):
    # The fixture set AWS_ENDPOINT_URL_S3; a store with no endpoint option must follow it.
    store = S3Raw()
    store.put(f"s3://{s3_bucket}/from-env", b"env")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="from-env")["Body"].read() == b"env"


def test_too_small_a_pool_is_noticed(s3_server, s3_bucket, caplog):
    # The control for the contract's pool test: with a pool of 2, 16 threads overflow it,
    # and the warning that test looks for is logged.
    caplog.set_level(logging.WARNING, logger="urllib3")
    store = S3Raw(endpoint_url=s3_server.endpoint, pool_size=2)
    store.put(f"s3://{s3_bucket}/pool", b"pool")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(store.get, [f"s3://{s3_bucket}/pool"] * 64))
    assert any("Connection pool is full" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def moto_with_auth(s3_server):
    """A moto server, in its own process, that checks credentials: it knows one IAM user
    allowed all of S3, and refuses any other key. Yields (endpoint, good, refused)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        import boto3

        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="reader", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="creds")
        s3.put_object(Bucket="creds", Key="blob", Body=b"secret blob")
        # From now on, every request must be signed by a key moto knows.
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
        good = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        refused = {"aws_access_key_id": "AKIAREFUSED000000000", "aws_secret_access_key": "no"}
        yield endpoint, good, refused
    finally:
        server.terminate()
        server.wait(10)


def test_refused_credentials_are_not_available(moto_with_auth):
    endpoint, _, refused = moto_with_auth
    store = S3Raw(refused, endpoint_url=endpoint, **FAST)
    with pytest.raises(StoreNotAvailable, match="InvalidAccessKeyId"):
        store.get("s3://creds/blob")
    with pytest.raises(StoreNotAvailable):
        store.exists("s3://creds/blob")


def test_a_list_of_credentials_is_tried_in_order(moto_with_auth):
    endpoint, good, refused = moto_with_auth
    store = S3Raw([refused, good], endpoint_url=endpoint, **FAST)
    assert store.get("s3://creds/blob") == b"secret blob"
    assert store.exists("s3://creds/blob")
    # The refused set is not tried again.
    assert store.credentials[store._credentials_index] == good


def test_credentials_switch_once_under_16_threads(moto_with_auth):
    # Sixteen threads refused at once must move to the next credentials once, not sixteen
    # times past the working set onto the refused one after it.
    endpoint, good, refused = moto_with_auth
    other_refused = dict(refused, aws_access_key_id="AKIAREFUSED111111111")
    store = S3Raw([refused, good, other_refused], endpoint_url=endpoint, **FAST)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(store.get, ["s3://creds/blob"] * 32))
    assert results == [b"secret blob"] * 32
    assert store.get("s3://creds/blob") == b"secret blob"


def test_when_every_credential_is_refused_the_store_is_not_available(moto_with_auth):
    endpoint, _, refused = moto_with_auth
    other_refused = dict(refused, aws_access_key_id="AKIAREFUSED111111111")
    store = S3Raw([refused, other_refused], endpoint_url=endpoint, **FAST)
    with pytest.raises(StoreNotAvailable):
        store.get("s3://creds/blob")


class RecordingS3(BaseHTTPRequestHandler):
    """Take any PUT as S3 does, remembering its Expect header (http.server answers
    `100-continue` by itself)."""

    protocol_version = "HTTP/1.1"
    expects: list = []

    def do_PUT(self):  # noqa: N802 - the http.server spelling
        self.expects.append(self.headers.get("Expect"))
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_only_large_uploads_wait_for_the_servers_go_ahead():
    """A small PUT is sent at once (no `Expect: 100-continue` round trip); one from
    EXPECT_CONTINUE_FROM bytes on still waits, so a refused upload is not sent."""
    RecordingS3.expects = []
    server = LoopbackHTTPServer(RecordingS3).start()
    try:
        store = S3Raw(
            {"aws_access_key_id": "k", "aws_secret_access_key": "s"},
            endpoint_url=server.endpoint,
            region_name="us-east-1",
        )
        store.put("s3://bucket/small", b"x" * 4096)
        store.put("s3://bucket/large", b"x" * EXPECT_CONTINUE_FROM)
    finally:
        server.stop()
    assert RecordingS3.expects == [None, "100-continue"]
