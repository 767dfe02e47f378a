"""The async twins: aget, aexists, aput, aopen, aget_many, run off the event loop."""

import asyncio
import hashlib
import time
from http.server import BaseHTTPRequestHandler

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

import bitstore_app
from bitstore_app.models import Tier
from tests.loopback import LoopbackHTTPServer
from tests.web.conftest import FolderTier, blob_of

pytestmark = pytest.mark.django_db(transaction=True)

DELAY = 1.0
SLOW_DATA = b"a blob from a slow API"


class SlowAPI(BaseHTTPRequestHandler):
    """Answers a request for SLOW_DATA after DELAY seconds, any other at once (404)."""

    def do_GET(self):  # noqa: N802 - the http.server name
        found = self.path.endswith(blob_of(SLOW_DATA))
        if found:
            time.sleep(DELAY)
        self.send_response(200 if found else 404)
        body = SLOW_DATA if found else b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(scenario):
    """Run a coroutine, then close the database connections its threads opened (or
    PostgreSQL could not drop the test database)."""

    async def closing():
        try:
            return await scenario
        finally:
            await sync_to_async(connections.close_all, thread_sensitive=True)()

    return asyncio.run(closing())


@pytest.fixture
def tiers(tmp_path):
    cache = FolderTier(tmp_path / "cache", name="cache", role="cache", position=0)
    return cache


def test_the_twins_answer_as_the_sync_calls_do(tiers):
    data = b"stored from async code"

    async def scenario():
        sha1 = await bitstore_app.aput(data)
        assert sha1 == hashlib.sha1(data).hexdigest()
        assert await bitstore_app.aput(sha1, data) == sha1
        assert await bitstore_app.aexists(sha1)
        assert not await bitstore_app.aexists(blob_of(b"absent"))
        assert await bitstore_app.aget(sha1) == data
        async with await bitstore_app.aopen(sha1, 7) as blob:
            assert blob.size == len(data)
            assert await blob.read(4) == data[7:11]
            assert b"".join([chunk async for chunk in blob]) == data[11:]
        results = [
            item async for item in bitstore_app.aget_many([sha1, blob_of(b"x")], errors="return")
        ]
        assert results[0] == data and isinstance(results[1], bitstore_app.NotFoundInStore)
        with pytest.raises(bitstore_app.NotFoundInStore):
            await bitstore_app.aget(blob_of(b"absent"))

    run(scenario())


def test_the_event_loop_keeps_running_while_a_tier_is_slow(tiers):
    server = LoopbackHTTPServer(SlowAPI).start()
    Tier.objects.create(name="slow", kind="http_api", location=f"{server.endpoint}", position=1)
    # The first call builds the tiers and the API's HTTP session; only the slow fetch is timed.
    assert not bitstore_app.exists(blob_of(b"absent"))
    ticks = []

    async def ticker(done):
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def scenario():
        done = asyncio.Event()
        task = asyncio.create_task(ticker(done))
        started = time.monotonic()
        data = await bitstore_app.aget(blob_of(SLOW_DATA))
        elapsed = time.monotonic() - started
        done.set()
        await task
        return data, elapsed

    try:
        data, elapsed = run(scenario())
    finally:
        server.stop()
    assert data == SLOW_DATA and elapsed >= DELAY
    assert len(ticks) > DELAY / 0.01 / 2, len(ticks)
    # A loop blocked by the fetch would stand still for DELAY; a busy machine may pause it
    # for a fraction of that.
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
    assert max(gaps) < DELAY / 2, max(gaps)
