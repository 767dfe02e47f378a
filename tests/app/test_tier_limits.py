"""A tier's limits hold on every path: rate limits and monthly budgets, in a real Redis,
through `get`, `get_many`, `open`, `missing`, the blob URL; across processes; failing open."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

import bitstore_app
from bitstore_app import services
from bitstore_app.coordination import budgets, rate_limits
from bitstore_app.models import Tier
from tests.app.conftest import make_blob
from tests.helpers import free_port
from tests.web.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits_redis(bitstore_config, redis_url):
    """Limits in the test Redis, a turn never waited for longer than 50 ms, and no location
    index (it would send repeated fetches past the first tier)."""
    bitstore_config(RATE_LIMIT_REDIS_URL=redis_url, RATE_LIMIT_MAX_WAIT=0.05, LOCATION_INDEX_SIZE=0)
    return redis_url


def two_tiers(tmp_path, sha1, data, **first_fields):
    """A first tier with `first_fields`, a second one; both hold the blob. Names are unique:
    the Redis is shared with other tests and sessions."""
    names = []
    for position, fields in enumerate([first_fields, {}], start=1):
        name = f"tier{position}-{uuid.uuid4().hex[:10]}"
        root = tmp_path / name
        root.mkdir()
        (root / sha1).write_bytes(data)
        Tier.objects.create(
            name=name, kind="filesystem", location=str(root), position=position, **fields
        )
        names.append(name)
    return names


def skipped(fetch, tier):
    return [a for a in fetch.attempts if a.tier == tier and a.outcome == "skipped"]


def test_a_rate_limited_tier_is_skipped_on_every_path(limits_redis, tmp_path):
    sha1, data = make_blob()
    first, second = two_tiers(tmp_path, sha1, data, rate_limit=0.2, breaker_threshold=1)
    assert services.fetch(sha1).served_by == first  # takes the one turn of the next 5 s
    fetch = services.fetch(sha1)
    assert fetch.served_by == second
    [attempt] = skipped(fetch, first)
    assert attempt.reason == "rate_limited" and "rate limit" in attempt.detail
    assert list(bitstore_app.get_many([sha1, sha1])) == [data, data]
    with bitstore_app.open(sha1) as stream:
        assert stream.read() == data
    assert bitstore_app.missing([sha1]) == []
    client = Client()
    client.force_login(make_user("limited-reader", "view_blob"))
    response = client.get(reverse("bitstore:blob", args=[sha1]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    # Skips are no failures: the circuit of the first tier (threshold 1) stays closed.
    assert services.breaker_states()[first] == "closed"


def test_every_path_keeps_to_the_rate_limit_of_the_only_holder(limits_redis, tmp_path):
    """The blob is in one rate-limited tier, whose turn another worker took: every path must
    go without it (a path that ignored the limit would return the blob)."""
    sha1, data = make_blob()
    root = tmp_path / "only"
    root.mkdir()
    (root / sha1).write_bytes(data)
    name = f"only-{uuid.uuid4().hex[:10]}"
    Tier.objects.create(name=name, kind="filesystem", location=str(root), rate_limit=0.01)
    rate_limits.buckets().take(name, 0.01, 1, 10)  # the next turn is 100 s away
    [attempt] = skipped(services.fetch(sha1), name)
    assert attempt.reason == "rate_limited"
    with pytest.raises(bitstore_app.NotFoundInStore):
        bitstore_app.get(sha1)
    [failed] = bitstore_app.get_many([sha1], errors="return")
    assert isinstance(failed, bitstore_app.NotFoundInStore)
    with pytest.raises(bitstore_app.NotFoundInStore):
        bitstore_app.open(sha1)
    with pytest.raises(bitstore_app.StoreNotAvailable):
        bitstore_app.missing([sha1])  # not reported missing: the tier could not be asked


def test_the_blob_url_answers_503_with_retry_after_when_the_only_holder_is_limited(
    limits_redis, tmp_path
):
    sha1, data = make_blob()
    root = tmp_path / "only"
    root.mkdir()
    (root / sha1).write_bytes(data)
    name = f"only-{uuid.uuid4().hex[:10]}"
    Tier.objects.create(name=name, kind="filesystem", location=str(root), rate_limit=0.2)
    rate_limits.buckets().take(name, 0.2, 1, 10)  # another worker took the turn
    client = Client()
    client.force_login(make_user("limited-reader", "view_blob"))
    response = client.get(reverse("bitstore:blob", args=[sha1]))
    assert response.status_code == 503 and int(response["Retry-After"]) > 0


def test_a_spent_request_budget_skips_the_tier_until_it_is_raised(
    limits_redis, bitstore_config, tmp_path
):
    bitstore_config(
        RATE_LIMIT_REDIS_URL=limits_redis, CONFIG_CHECK_INTERVAL=0, LOCATION_INDEX_SIZE=0
    )
    sha1, data = make_blob()
    first, second = two_tiers(tmp_path, sha1, data, monthly_request_budget=2)
    served = [services.fetch(sha1).served_by for _ in range(3)]
    assert served == [first, first, second]
    [attempt] = skipped(services.fetch(sha1), first)
    assert attempt.reason == "budget" and "monthly budget" in attempt.detail
    tier = Tier.objects.get(name=first)
    tier.monthly_request_budget = 3
    tier.save()
    assert [services.fetch(sha1).served_by for _ in range(2)] == [first, second]
    assert budgets.usage([first])[first].requests == 3


def test_a_spend_budget_counts_requests_and_bytes_at_the_tier_prices(limits_redis, tmp_path):
    sha1, data = make_blob()
    # A request costs 1, a byte 1 (10^9 per GB); the budget allows what two reads cost.
    price = {"price_per_1k_requests": 1000.0, "price_per_gb_read": 1e9}
    spend = 2 * (1 + len(data))
    first, second = two_tiers(tmp_path, sha1, data, monthly_spend_budget=spend - 0.5, **price)
    assert [services.fetch(sha1).served_by for _ in range(3)] == [first, first, second]
    assert budgets.usage([first])[first].spend == pytest.approx(spend)


@pytest.mark.django_db(transaction=True)
def test_a_budget_is_shared_with_another_process(limits_redis, tmp_path, second_process):
    sha1, data = make_blob()
    first, second = two_tiers(tmp_path, sha1, data, monthly_request_budget=3)
    config = {"RATE_LIMIT_REDIS_URL": limits_redis, "LEDGER_ENABLED": False}
    config["LOCATION_INDEX_SIZE"] = 0
    other = second_process("get", sha1, "2", "0", config=config)
    assert other.stdout.readline().strip() == "done"
    assert [services.fetch(sha1).served_by for _ in range(2)] == [first, second]


def test_without_redis_budgets_count_per_process_and_the_admin_says_so(
    bitstore_config, tmp_path, monkeypatch, admin_client
):
    bitstore_config(LOCATION_INDEX_SIZE=0)
    monkeypatch.setattr(budgets, "redis_url", lambda: None)
    sha1, data = make_blob()
    first, second = two_tiers(tmp_path, sha1, data, monthly_request_budget=1)
    assert [services.fetch(sha1).served_by for _ in range(2)] == [first, second]
    page = admin_client.get(reverse("admin:bitstore_app_tier_changelist")).content.decode()
    assert "0 of 1 requests (this process only: no Redis)" in page
    assert "no budget" in page


def test_the_admin_shows_what_the_budgets_leave(limits_redis, tmp_path, admin_client):
    sha1, data = make_blob()
    first, _ = two_tiers(tmp_path, sha1, data, monthly_request_budget=10)
    Tier.objects.filter(name=first).update(monthly_spend_budget=5.0, price_per_1k_requests=100)
    services.configuration.invalidate()
    services.fetch(sha1)
    page = admin_client.get(reverse("admin:bitstore_app_tier_changelist")).content.decode()
    assert "9 of 10 requests; 4.90 of 5.00 spend" in page


def test_budgets_fail_open_when_redis_is_down(bitstore_config, tmp_path):
    from bitstore_app.metrics import REGISTRY

    def served():
        return REGISTRY.get_sample_value("bitstore_limits_redis_errors_total")

    bitstore_config(
        RATE_LIMIT_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", LOCATION_INDEX_SIZE=0
    )
    sha1, data = make_blob()
    first, _ = two_tiers(tmp_path, sha1, data, monthly_request_budget=1)
    before = served()
    assert [services.fetch(sha1).served_by for _ in range(2)] == [first, first]
    assert served() > before


def test_a_retry_takes_a_turn_of_the_rate_limit(limits_redis, bitstore_config):
    """A flaky API answers each blob 503 once, and the tier retries: the retry is one more
    request to the tier, so it takes a turn too. With two turns and no refill in sight, the
    first blob costs both; the second finds no turn and skips the tier (rate_limited)."""
    from tests.resilience.servers import BlobServer

    bitstore_config(
        RATE_LIMIT_REDIS_URL=limits_redis,
        RATE_LIMIT_MAX_WAIT=0.05,
        RATE_LIMIT_BURST=2,
        LOCATION_INDEX_SIZE=0,
    )
    api = BlobServer()
    try:
        blobs = [make_blob(f"flaky {n}") for n in range(2)]
        api.blobs.update(dict(blobs))
        name = f"flaky-{uuid.uuid4().hex[:10]}"
        Tier.objects.create(
            name=name, kind="http_api", location=api.url, rate_limit=0.001, breaker_threshold=0
        )
        api.failures = 1
        assert bitstore_app.get(blobs[0][0]) == blobs[0][1]
        api.failures = 1
        second = services.fetch(blobs[1][0])
        assert second.error is not None and [a.reason for a in skipped(second, name)] == [
            "rate_limited"
        ]
        assert api.total == 2
    finally:
        api.stop()
