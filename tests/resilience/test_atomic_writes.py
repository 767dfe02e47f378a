"""A writer killed halfway through an upload leaves no object, and a reader polling meanwhile
never sees a partial blob (only nothing, or the whole blob once an upload finishes): S3 and
GCS uploads are atomic by protocol, an object exists once its whole body has arrived. The
filesystem tier's atomic rename is tested in tests/core.

The uploader is a separate process, behind a TCP proxy that slows its bytes down so that it
can be killed with SIGKILL in the middle of the body; the proxy then drops the connection
with a reset (the kernel would otherwise still deliver what the process had written)."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from bitstore_app.core import GSRaw, NotFoundInStore, S3Raw
from tests.resilience.conftest import AWS_ENV, make_blob
from tests.resilience.processes import REPO
from tests.resilience.servers import SlowProxy

SIZE = 2 * 1024 * 1024
RATE = 2 * 1024 * 1024  # bytes a second through the proxy: the upload takes about 1 s

UPLOAD = """
import sys
from bitstore_app.core import GSRaw, S3Raw
kind, endpoint, uri, size = sys.argv[1:]
store = S3Raw(endpoint_url=endpoint) if kind == "s3" else GSRaw(endpoint=endpoint)
store.put(uri, b"x" * int(size))
print("finished")
"""


@pytest.fixture(params=["s3", "gs"])
def target(request):
    """(kind, server port, uri of a new key, a reader store straight to the server)."""
    bucket = f"atomic-{uuid.uuid4().hex[:8]}"
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        server.make_bucket(bucket)
        reader = S3Raw(endpoint_url=server.endpoint)
        return "s3", server.port, f"s3://{bucket}/{make_blob()[0]}", reader
    server = request.getfixturevalue("gcs_server")
    server.make_bucket(bucket)
    return "gs", server.port, f"gs://{bucket}/{make_blob()[0]}", GSRaw(endpoint=server.endpoint)


@pytest.mark.parametrize("killed", [True, False], ids=["killed", "finished"])
def test_a_reader_sees_no_blob_or_the_whole_blob(target, killed, record_property):
    kind, port, uri, reader = target
    proxy = SlowProxy(port, RATE)
    env = dict(os.environ, **AWS_ENV, STORAGE_EMULATOR_HOST=proxy.endpoint)
    uploader = subprocess.Popen(
        [sys.executable, "-c", UPLOAD, kind, proxy.endpoint, uri, str(SIZE)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
    )
    seen, stop = [], threading.Event()

    def read_while_writing():
        while not stop.is_set():
            try:
                seen.append(len(reader.get(uri)))
            except NotFoundInStore:
                seen.append(None)
            time.sleep(0.02)

    polling = threading.Thread(target=read_while_writing)
    polling.start()
    try:
        deadline = time.monotonic() + 20
        while proxy.received < SIZE // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        received = proxy.received
        assert SIZE // 4 <= received < SIZE, "the upload is in the middle of its body"
        if killed:
            uploader.kill()
            proxy.cut()
        uploader.wait(20)
        time.sleep(0.5)  # let the server notice a dropped connection; the reader polls on
    finally:
        stop.set()
        polling.join(10)
        proxy.stop()

    finished = b"finished" in uploader.stdout.read()
    assert finished is not killed
    assert seen and set(seen) <= {None, SIZE}, "a reader never saw a partial blob"
    if killed:
        record_property("killed_after_bytes", received)
        assert set(seen) == {None}
        assert not reader.exists(uri)
    else:
        assert seen[0] is None and seen[-1] == SIZE, "the poller saw the blob appear whole"
        assert len(reader.get(uri)) == SIZE
