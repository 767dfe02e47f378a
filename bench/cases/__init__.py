"""The benchmark's cases, one module each; `CASES` maps a case number to its module."""

from . import (
    big_blob,
    blob_url,
    blob_url_cache,
    cache_levels,
    disk_cache,
    django_layer,
    first_tier,
    get_many,
    latency,
    ledger_postgresql,
    ledger_statistics,
    missing,
    third_tier,
    warming,
)

CASES = {
    1: first_tier,
    2: third_tier,
    3: get_many,
    4: big_blob,
    5: django_layer,
    6: warming,
    7: latency,
    8: disk_cache,
    9: blob_url_cache,
    missing.NUMBER: missing,
    ledger_postgresql.NUMBER: ledger_postgresql,
    ledger_statistics.NUMBER: ledger_statistics,
    blob_url.NUMBER: blob_url,
    cache_levels.NUMBER: cache_levels,
}
