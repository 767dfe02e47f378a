"""How far a monthly budget can be overshot, under real concurrency: 16 threads in this
process and 16 in a second one ask, all at once, for blobs that only a budgeted HTTP API
holds (a real loopback server that counts the requests it receives), with the budgets'
counters in Redis.

A request budget is never passed: each call, and each retry within it, is admitted by one
Lua script that checks and counts it together. A spend budget is passed by the calls in
flight when it runs out (their bytes are priced after they return), at most one call per
thread of each process, plus the request that crossed it: "one burst per process"."""

import hashlib
import threading
import uuid

import pytest

from bitstore_app import services
from bitstore_app.coordination import budgets
from bitstore_app.models import Tier
from tests.warming.source_api import SourceAPI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

THREADS = 16  # in each process
BLOBS = 120  # asked for by each process; no two fetches ask for the same blob
SIZE = 992  # bytes a blob: 31 SHA-256 digests


@pytest.fixture
def api():
    """The paid API: slow enough (50 ms an answer) that calls overlap."""
    server = SourceAPI(delay=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def config(bitstore_config, redis_url):
    """Budgets in the test Redis, shared with the second process; no location index."""
    values = {
        "RATE_LIMIT_REDIS_URL": redis_url,
        "LOCATION_INDEX_SIZE": 0,
        "CONFIG_CHECK_INTERVAL": 60,
    }
    bitstore_config(**values)
    return values | {"LEDGER_ENABLED": False}


def paid_tier(api, **fields):
    """Create the API's tier (a new name: the Redis is shared across runs) and 2 x BLOBS
    blobs that only it holds; return the tier's name and the two processes' SHA1s."""
    name = f"paid-{uuid.uuid4().hex[:10]}"
    Tier.objects.create(name=name, kind="http_api", location=api.url, **fields)
    hashes = []
    for number in range(2 * BLOBS):
        data = hashlib.sha256(f"{name} {number}".encode()).digest() * (SIZE // 32)
        sha1 = hashlib.sha1(data).hexdigest()
        api.blobs[sha1] = data
        hashes.append(sha1)
    return name, hashes[:BLOBS], hashes[BLOBS:]


def contend(name, mine, theirs, second_process, tmp_path, config):
    """Ask for `mine` in THREADS threads here and `theirs` in THREADS threads in a second
    process, both released at once; return how many blobs each process was served."""
    listing = tmp_path / "theirs.txt"
    listing.write_text("\n".join(theirs))
    other = second_process("get_many", str(listing), str(THREADS), config=config)
    assert other.stdout.readline().strip() == "ready", other.stderr.read()[-3000:]
    services.composite()  # this process reads the configuration before the start too
    go = threading.Event()
    served = []

    def ask(share):
        go.wait()
        served.extend(services.fetch(sha1).served_by == name for sha1 in share)

    threads = [threading.Thread(target=ask, args=(mine[i::THREADS],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    other.stdin.write("go\n")
    other.stdin.flush()
    go.set()
    for thread in threads:
        thread.join()
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err[-3000:]
    return sum(served), int(out.split()[-1])


def test_a_request_budget_is_never_passed_by_two_processes_of_many_threads(
    api, config, second_process, tmp_path
):
    budget = 40
    name, mine, theirs = paid_tier(api, monthly_request_budget=budget)
    here, there = contend(name, mine, theirs, second_process, tmp_path, config)
    received = sum(api.counts().values())
    assert received <= budget  # the documented overshoot of a request budget: none
    assert here + there == received == budget  # every admitted call was a request, served
    assert here > 0 and there > 0  # both processes were admitted: one budget, shared
    assert budgets.usage([name])[name].requests == budget


def test_a_spend_budget_is_passed_by_at_most_the_calls_in_flight(
    api, config, second_process, tmp_path
):
    # A request costs 1 and a blob's bytes 10: 11 a call; a spend of 200 pays for 18 calls.
    request, read = 1.0, 10.0
    spend = 200.0
    prices = {"price_per_1k_requests": 1000 * request, "price_per_gb_read": read * 1e9 / SIZE}
    name, mine, theirs = paid_tier(api, monthly_spend_budget=spend, **prices)
    here, there = contend(name, mine, theirs, second_process, tmp_path, config)
    received = sum(api.counts().values())
    # Calls are admitted while the month's spend is under the budget. Each thread has one
    # call in flight at most, whose bytes are not yet priced; the call that crosses the
    # budget adds its request's price.
    bound = spend + request + 2 * THREADS * read
    assert received * (request + read) < bound
    assert here + there == received and here > 0 and there > 0
    assert budgets.usage([name])[name].spend == pytest.approx(received * (request + read))
    assert received * (request + read) >= spend  # the budget was spent


def test_a_retried_request_counts_against_the_budget(api, config, second_process, tmp_path):
    """A flaky API: every blob is answered 503 once before it is sent. The tier retries a
    503 (HTTP API tiers, `retries` 2): each retry is one more request the tier receives,
    admitted by the budget like the first one, or not made."""
    budget = 40
    name, mine, theirs = paid_tier(api, monthly_request_budget=budget)
    for sha1 in mine + theirs:
        api.failures[sha1] = 1
    here, there = contend(name, mine, theirs, second_process, tmp_path, config)
    received = sum(api.counts().values())
    assert received <= budget
    assert received == budget == budgets.usage([name])[name].requests
    assert 0 < here + there <= budget // 2  # a blob served cost two requests
