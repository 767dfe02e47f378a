"""A tier's circuit breaker state shows in the admin tier list and in the metrics."""

import hashlib

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from bitstore_app import services
from bitstore_app.core import NotFoundInStore, breaker
from bitstore_app.models import Tier
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def tripped_tier(tmp_path):
    """An HTTP API tier on a closed loopback port whose breaker opened after one failure."""
    breaker.reset()
    Tier.objects.create(name="folder", kind="filesystem", location=str(tmp_path), position=0)
    Tier.objects.create(
        name="api-down",
        kind="http_api",
        location=f"http://127.0.0.1:{free_port()}/blobs",
        position=1,
        breaker_threshold=1,
        breaker_cooldown=60,
        retries=0,
    )
    with pytest.raises(NotFoundInStore):
        services.get(hashlib.sha1(b"nowhere").hexdigest())
    yield
    breaker.reset()


def test_the_admin_tier_list_shows_the_open_circuit(tripped_tier, admin_client):
    page = admin_client.get("/admin/bitstore_app/tier/").content.decode()
    assert "column-circuit" in page
    row = page[page.index("api-down") :]
    assert "<td" in row and ">open<" in row[: row.index("</tr>")]
    folder_row = page[page.index(">folder<") :]
    assert ">closed<" in folder_row[: folder_row.index("</tr>")]


def test_the_metrics_show_the_open_circuit(tripped_tier):
    text = Client(REMOTE_ADDR="127.0.0.1").get("/bitstore/metrics").content.decode()
    states = {
        (sample.labels["tier"], sample.labels["state"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "bitstore_tier_circuit_state"
        for sample in family.samples
    }
    assert states[("api-down", "open")] == 1
    assert states[("api-down", "closed")] == 0
    assert states[("folder", "closed")] == 1
