"""GET /metrics: who may read it, and what it counts."""

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from bitstore_app import ledger, services
from bitstore_app.models import FetchRecord, Tier
from tests.web.conftest import FolderTier, blob_of, blob_url, body

pytestmark = pytest.mark.django_db

DATA = b"counted bytes " * 1000


def scrape(client=None, **extra):
    response = (client or Client()).get(reverse("bitstore:metrics"), **extra)
    return response


def samples():
    """Return {(name, sorted labels): value} of every sample bitstore exports now."""
    response = scrape()
    assert response.status_code == 200
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(all_samples, name, **labels):
    return all_samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_served_to_loopback_by_default():
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert "bitstore_ledger_buffered_records" in text
    assert "python_gc" not in text  # bitstore's own registry, not the global one


def test_other_addresses_get_403():
    response = scrape(REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert "METRICS_ALLOWED_IPS" in response.json()["error"]


def test_allowed_networks_and_ipv6(bitstore_config):
    bitstore_config(METRICS_ALLOWED_IPS=["10.0.0.0/8", "::1"])
    assert scrape(REMOTE_ADDR="10.20.30.40").status_code == 200
    assert scrape(REMOTE_ADDR="::1").status_code == 200
    assert scrape(REMOTE_ADDR="127.0.0.1").status_code == 403
    assert scrape(REMOTE_ADDR="not an address").status_code == 403


def test_the_bearer_token_opens_metrics_from_anywhere(bitstore_config):
    bitstore_config(METRICS_TOKEN="s3cret-token", METRICS_ALLOWED_IPS=[])
    far = {"REMOTE_ADDR": "203.0.113.9"}
    assert scrape(**far, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    for sent in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        response = scrape(**far, headers=sent)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"


def test_a_logged_in_superuser_is_no_exception(bitstore_config, client_of):
    from django.contrib.auth.models import User

    bitstore_config(METRICS_ALLOWED_IPS=[])
    admin = User.objects.create_superuser("root", password="unused")
    assert scrape(client_of(admin)).status_code == 403


def test_fetches_are_counted_per_tier(reader_client, tmp_path):
    first = FolderTier(tmp_path / "a", name="metrics-first", position=0)
    second = FolderTier(tmp_path / "b", name="metrics-second", position=1)
    sha1 = second.add(DATA)
    assert first.root.exists()
    before = samples()
    assert body(reader_client.get(blob_url(sha1))) == DATA
    assert reader_client.get(blob_url(blob_of(b"missing"))).status_code == 404
    assert services.get(sha1) == DATA  # the service's own reads are counted the same way
    after = samples()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # Which tiers were asked depends on the routing (a blob seen before may be asked first
    # from the tier that served it): the metrics must agree with the ledger's traces.
    ledger.buffer.flush()
    attempts = [a for record in FetchRecord.objects.all() for a in record.attempts]
    for tier in ("metrics-first", "metrics-second"):
        asked = [a["outcome"] for a in attempts if a["tier"] == tier and a["outcome"] != "skipped"]
        assert delta("bitstore_tier_misses_total", tier=tier) == asked.count("not_found")
        assert delta("bitstore_tier_hits_total", tier=tier) == asked.count("hit")
        assert delta("bitstore_tier_latency_seconds_count", tier=tier) == len(asked)
    assert delta("bitstore_tier_hits_total", tier="metrics-second") == 2
    assert delta("bitstore_tier_misses_total", tier="metrics-second") == 1
    assert delta("bitstore_tier_misses_total", tier="metrics-first") >= 1
    assert delta("bitstore_tier_bytes_total", tier="metrics-second") == 2 * len(DATA)
    assert delta("bitstore_fetches_total", outcome="hit") == 2
    assert delta("bitstore_fetches_total", outcome="not_found") == 1


def test_a_tier_that_is_down_counts_errors(reader_client, folder_tier, closed_port, aws_env):
    Tier.objects.create(
        name="metrics-down",
        kind="s3",
        location="s3://bucket/blobs/",
        options={"endpoint_url": f"http://127.0.0.1:{closed_port}"},
        connect_timeout=0.5,
        read_timeout=0.5,
        position=1,
    )
    before = samples()
    assert reader_client.get(blob_url(blob_of(b"absent"))).status_code == 503
    after = samples()
    labels = {"tier": "metrics-down", "reason": "unavailable"}
    errors = value(after, "bitstore_tier_errors_total", **labels)
    assert errors - value(before, "bitstore_tier_errors_total", **labels) == 1


def test_the_ledger_buffer_size_is_exported(reader_client, folder_tier):
    sha1 = folder_tier.add(DATA)
    for _ in range(3):
        body(reader_client.get(blob_url(sha1)))
    assert len(ledger.buffer) == 3
    assert value(samples(), "bitstore_ledger_buffered_records") == 3
    ledger.buffer.flush()
    assert value(samples(), "bitstore_ledger_buffered_records") == 0
