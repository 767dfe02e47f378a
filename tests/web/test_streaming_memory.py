"""A 256 MiB blob served from S3 and from a folder, in constant memory.

The serving runs in a process of its own (tests/web/serve_probe.py) so that its resident
set is measured alone; the S3 emulator runs in another process too, since it holds the blob
in its own memory.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from tests.helpers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
SIZE = 256 * 1024 * 1024
LIMIT_KIB = 32 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def big_blob(tmp_path_factory):
    """A file of 256 MiB of random bytes named by its SHA1, alone in its folder."""
    folder = tmp_path_factory.mktemp("big")
    digest = hashlib.sha1()
    with open(folder / "incoming", "wb") as file:
        for _ in range(SIZE // (8 * 1024 * 1024)):
            chunk = os.urandom(8 * 1024 * 1024)
            digest.update(chunk)
            file.write(chunk)
    sha1 = digest.hexdigest()
    (folder / "incoming").rename(folder / sha1)
    return folder / sha1, sha1


@pytest.fixture
def moto_process(tmp_path):
    """A moto S3 server in a process of its own; its endpoint."""
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def serve(tmp_path, tier, sha1):
    """Run the probe on a fresh database; return its report."""
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "BITSTORE_LOG_LEVEL": "WARNING",
    }
    spec = json.dumps({"tier": tier, "sha1": sha1})
    done = subprocess.run(
        [sys.executable, "-m", "tests.web.serve_probe", spec],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n{tier['kind']}: {report}")
    return report


def check(report, sha1):
    assert report["status"] == 200
    assert report["content_length"] == report["received"] == SIZE
    assert report["sha1"] == sha1
    growth = report["peak_kib"] - report["rss_before_kib"]
    assert growth < LIMIT_KIB, f"the peak grew by {growth / 1024:.1f} MiB while streaming"


def test_a_256_mib_blob_from_a_folder_streams_in_constant_memory(tmp_path, big_blob):
    path, sha1 = big_blob
    tier = {"name": "disk", "kind": "filesystem", "location": str(path.parent)}
    check(serve(tmp_path, tier, sha1), sha1)


def test_a_256_mib_blob_from_s3_streams_in_constant_memory(tmp_path, big_blob, moto_process):
    path, sha1 = big_blob
    bucket = f"big-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_process,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    part = 64 * 1024 * 1024
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    client.upload_file(str(path), bucket, f"blobs/{sha1}", Config=config)
    tier = {
        "name": "s3",
        "kind": "s3",
        "location": f"s3://{bucket}/blobs/",
        "options": {"endpoint_url": moto_process},
    }
    check(serve(tmp_path, tier, sha1), sha1)
