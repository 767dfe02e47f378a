"""Case 5: `bitstore_app.get` through the Django layer, ledger on, against the bare core
composite built from the same tier rows: the cost of the database configuration and ledger."""

from __future__ import annotations

import itertools
import os

from ..data import FIRST, KIB, blobs, put_s3
from ..django_env import layout_tiers, make_tiers, setup
from ..report import CaseResult
from ..timing import interleaved

TITLE = "bitstore_app.get (Django, ledger on) vs the bare core composite (ms per get)"
TARGET = 1.10


def run(bench) -> CaseResult:
    setup(bench.folder)
    import bitstore_app
    from bitstore_app.composer import TierSpec, build_composite
    from bitstore_app.conf import bitstore_settings
    from bitstore_app.ledger import buffer
    from bitstore_app.models import FetchRecord, Tier

    case = CaseResult(5, TITLE)
    items = blobs("many", bench.sizes.django_blobs, 4 * KIB)
    hashes = put_s3(FIRST, items)
    make_tiers(layout_tiers())
    bare = build_composite([TierSpec.of(tier) for tier in Tier.objects.enabled()])
    assert bitstore_settings.LEDGER_ENABLED
    for sha1, data in zip(hashes, items, strict=True):  # every blob seen once by both
        assert bitstore_app.get(sha1) == bare.get(sha1) == data
    through_django, through_core = itertools.cycle(hashes), itertools.cycle(hashes)
    stats = interleaved(
        {
            "core": lambda: bare.get(next(through_core)),
            "django": lambda: bitstore_app.get(next(through_django)),
        },
        bench.sizes.rounds * 2,  # the two differ by a few per cent: more samples
        bench.sizes.calls,
    )
    buffer.flush()
    recorded = FetchRecord.objects.count()
    base = case.add("bare core composite get", stats["core"])
    row = case.add("bitstore_app.get (Django + ledger)", stats["django"], base)
    cpu_base = case.add("bare core composite: CPU per get (all threads)", stats["core cpu"])
    case.add("bitstore_app.get: CPU per get (all threads)", stats["django cpu"], cpu_base)
    case.target(f"Django layer <= {TARGET}x the bare core", row.ratio, row.ratio <= TARGET)
    case.notes.append(f"{recorded} fetches recorded in the ledger")
    bench.spy("case5-django-get", os.getpid(), lambda: [bitstore_app.get(h) for h in hashes * 3])
    return case
