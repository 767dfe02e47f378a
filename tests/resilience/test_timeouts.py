"""A tier that accepts connections and never answers costs its timeout, once (timeouts are
not retried), and nothing at all once its circuit is open."""

import time

import pytest

from bitstore_app.composer import TierSpec, build_composite
from bitstore_app.core import breaker, trace
from tests.resilience.conftest import folder_tier, make_blob, unique

TIMEOUT = 0.5
#: Room above the timeout for a loaded machine (the SDK client is built beforehand).
MARGIN = 0.3
THRESHOLD = 3


def hanging_spec(kind, endpoint):
    """Return a tier of `kind` whose endpoint is the hanging server."""
    location = {"http_api": endpoint, "s3": "s3://bucket/prefix/", "gs": "gs://bucket/prefix/"}
    options = {"s3": {"endpoint_url": endpoint}, "gs": {"endpoint": endpoint}}
    return TierSpec(
        name=unique(kind),
        kind=kind,
        location=location[kind],
        options=options.get(kind, {}),
        credentials="anonymous" if kind == "gs" else "",
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
        breaker_threshold=THRESHOLD,
        breaker_cooldown=60,
    )


@pytest.mark.parametrize("kind", ["http_api", "s3", "gs"])
def test_a_hanging_tier_costs_its_timeout_then_is_skipped(
    kind, hanging_server, tmp_path, aws_env, record_property
):
    hanging, backup = hanging_spec(kind, hanging_server.endpoint), folder_tier(tmp_path)
    composite = build_composite([hanging, backup])
    getattr(composite.sources[0], "base_store", composite.sources[0]).client()
    blobs = [make_blob(kind) for _ in range(THRESHOLD + 5)]
    for sha1, data in blobs:
        composite.sources[1].put(sha1, data)

    seconds = []
    for number, (sha1, data) in enumerate(blobs):
        started = time.perf_counter()
        result = composite.fetch(sha1)
        seconds.append(time.perf_counter() - started)
        assert result.data == data, "every blob is served, by the backup tier"
        assert result.served_by == backup.name
        # Asked (and timed out) until the circuit opens; then skipped, saying why.
        if number < THRESHOLD:
            assert result.attempts[0].outcome == trace.UNAVAILABLE
        else:
            assert (result.attempts[0].outcome, result.attempts[0].reason) == (
                trace.SKIPPED,
                "circuit_open",
            )

    slow, fast = seconds[:THRESHOLD], seconds[THRESHOLD:]
    record_property("seconds", [round(s, 4) for s in seconds])
    assert all(TIMEOUT * 0.9 <= s <= TIMEOUT + MARGIN for s in slow), slow
    # Skipped, not waited for: well under the timeout even on a busy machine.
    assert max(fast) < TIMEOUT / 2, f"after the circuit opened, a get took {max(fast):.3f} s"
    assert breaker.states()[hanging.name] == breaker.OPEN
    # One connection per get while closed (timeouts are not retried), none once open. The GCS
    # SDK also reads the bucket's metadata once, from a background thread of its own.
    sdk_extra = 1 if kind == "gs" else 0
    assert hanging_server.connections == THRESHOLD + sdk_extra
    assert "circuit open" in composite.fetch(blobs[0][0]).attempts[0].detail
