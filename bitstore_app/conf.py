"""bitstore's settings: one `BITSTORE = {...}` dict in Django settings, read lazily.

Every key is optional; the defaults below are documented in README's configuration section.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Seconds between checks of the tier configuration version (one tiny query per process).
    "CONFIG_CHECK_INTERVAL": 2.0,
    # Named credentials that tiers reference; string values "env:NAME" are read from the
    # environment when the tier is built. Secrets never go in the database.
    "CREDENTIALS": {},
    # The fetch ledger: on/off, and when the in-memory buffer is written to the database.
    "LEDGER_ENABLED": True,
    "LEDGER_FLUSH_COUNT": 500,
    "LEDGER_FLUSH_INTERVAL": 1.0,
    # Records kept in memory while the database is down; past it the oldest are dropped.
    "LEDGER_MAX_BUFFER": 200_000,
    # Seconds a process that is exiting keeps trying to write its buffer while the database
    # refuses (SQLite locked by another exiting worker, a restarting server).
    "LEDGER_EXIT_WAIT": 5.0,
    # Flush from a background thread (True) or only on count, exit and explicit flush().
    "LEDGER_BACKGROUND_FLUSH": True,
    # Threads used by get_many.
    "GET_MANY_WORKERS": 16,
    # Admin: the longest connect/read timeout, in seconds, of a live tier check, so that a
    # tier that is down answers the "check" action and the "probe now" box quickly.
    "PROBE_TIMEOUT": 2.0,
    # Admin statistics: spend per requester is counted from at most this many of the newest
    # fetches of the window (the page says when the window holds more).
    "SPEND_SAMPLE_SIZE": 20_000,
    # Leases per SHA1 across processes (coordination/leases.py), taken by warm jobs and by any
    # read about to ask a write-back source, so that one process fetches a blob and fills the
    # cache while the others wait and read the cache: the Redis that holds them (None: the one
    # rate limits use; neither: readers wait for each other within a process only), and the
    # seconds a lease lasts and a reader waits after a fill's last progress: a fill renews its
    # lease as it progresses, and a dead or stuck one blocks the others that long at most.
    "LEASE_REDIS_URL": None,
    "LEASE_TTL": 10.0,
    # Speed (bench/README.md, bitstore_app/index_preload.py). Each process remembers which tier
    # served each SHA1 (up to this many; 0 turns it off) and asks that tier first next time,
    # the configured order being the fallback; it starts from the ledger's latest hits.
    # 100,000 SHA1s take about 18 MB per process.
    "LOCATION_INDEX_SIZE": 100_000,
    "LOCATION_INDEX_WARM": 10_000,
    # A SHA1 with no known location is asked from the tiers at once (True, a thread count,
    # or False for one tier after another); the first tier in order that has it serves it,
    # and write-back sources still wait their turn. Off by default: when an early tier has
    # the blob (the usual case), each later tier asked costs a request, and a download if it
    # holds the blob too; get_many of unseen blobs sends that many times the requests.
    "CONCURRENT_PROBES": False,
    # Streams (the blob URL, `open`). A whole blob up to VERIFY_BEFORE_SEND_MAX_BYTES is read
    # and checked before any header is sent, so a wrong cache entry falls through to the next
    # tier; a larger one is checked as it streams, its last chunk held back until the SHA1
    # matches (a mismatch cuts the response short). A stream from a write-back source fills
    # the cache as it is read; when the client leaves early, the fill finishes in the
    # background for blobs up to FILL_AFTER_DISCONNECT_MAX_BYTES, else it is dropped
    # (bench/README.md measures what finishing costs). A Range request on an uncached blob up
    # to FILL_ON_RANGE_MAX_BYTES fills the cache with the whole blob in the background.
    "VERIFY_BEFORE_SEND_MAX_BYTES": 4 * 1024 * 1024,
    "FILL_AFTER_DISCONNECT_MAX_BYTES": 64 * 1024 * 1024,
    "FILL_ON_RANGE_MAX_BYTES": 64 * 1024 * 1024,
    # Bounded cache levels (a filesystem tier with max_bytes; core/tiers/folder_budget.py): a
    # blob read in the last EVICTION_SPARE_SECONDS is never evicted (a front server handed
    # its path by X-Accel-Redirect may be about to open it), and an eviction pass brings the
    # level down to EVICTION_LOW_WATERMARK times max_bytes. A tier's options can set either
    # for itself ("spare_seconds", "low_watermark").
    "EVICTION_SPARE_SECONDS": 5.0,
    "EVICTION_LOW_WATERMARK": 0.9,
    # Cache warming (warming/): SHA1s per chunk task, and threads that warm one chunk.
    "WARM_CHUNK_SIZE": 100,
    "WARM_CONCURRENCY": 8,
    # Seconds a warm job may stay queued before bitstore_warm and the admin's job page say
    # that no worker has taken it (and whether any worker reads its queue).
    "WARM_WORKER_WAIT": 10.0,
    # Seconds a warm job may count nothing before the workers send its unfinished chunks
    # again (a broker lost their messages; warming/stalled.py); 0 never does.
    "WARM_STALL_AFTER": 900.0,
    # Warm tasks retry transient failures (a tier not available, a timeout, throttling) up to
    # WARM_MAX_RETRIES times, after about WARM_RETRY_BACKOFF * 2**n seconds (jittered, capped
    # at WARM_RETRY_BACKOFF_MAX); what still fails is counted as failed in the job.
    "WARM_MAX_RETRIES": 5,
    "WARM_RETRY_BACKOFF": 2.0,
    "WARM_RETRY_BACKOFF_MAX": 300.0,
    # Per-tier rate limits (Tier.rate_limit) are shared by all workers through this Redis;
    # None means the Celery broker when it is Redis, else each process limits on its own.
    "RATE_LIMIT_REDIS_URL": None,
    # Requests a rate-limited tier may take at once after a quiet spell (the bucket's size).
    "RATE_LIMIT_BURST": 1.0,
    # Seconds a call (or a retry within it) may wait for its turn; past it the call is not
    # made and the tier is skipped for this fetch (recorded as rate_limited).
    "RATE_LIMIT_MAX_WAIT": 10.0,
    # Blob endpoint: seconds a signed URL (`signed_blob_url`) is valid by default, and at most:
    # lowering it also shortens URLs already handed out.
    "SIGNED_URL_MAX_AGE": 3600,
    # Blob endpoint behind nginx (or Apache, lighttpd): a blob the filesystem cache tier holds
    # is handed to the front server to send, Django having checked access. "" (off), or the
    # internal location that serves the cache folder, for example "/_bitstore_cache/"; the
    # header is X-Accel-Redirect (nginx: that location + the SHA1) or X-Sendfile (the file's
    # absolute path).
    "BLOB_ACCEL_REDIRECT": "",
    "BLOB_ACCEL_HEADER": "X-Accel-Redirect",
    # Without a front server that sends files: answer whole-blob GETs of filesystem-cache hits
    # with the open file, which the WSGI server sends with sendfile (wsgi.file_wrapper).
    "BLOB_SENDFILE": False,
    # /metrics is served to requests with `Authorization: Bearer <METRICS_TOKEN>` (when set)
    # or from these addresses or networks (REMOTE_ADDR: behind a proxy, the proxy's address).
    "METRICS_TOKEN": "",
    # Uploads (PUT/POST /blobs, put(file), BitstoreStorage): the largest blob accepted, in
    # bytes (0: no limit); larger uploads are refused (413 over HTTP).
    "UPLOAD_MAX_SIZE": 5 * 1024**3,
    "METRICS_ALLOWED_IPS": ["127.0.0.1", "::1"],
}


class BitstoreSettings:
    """Attribute access to `settings.BITSTORE` with defaults, reloaded on `setting_changed`.

    A value read once is kept as an instance attribute, so later reads (the ledger reads
    several per `get`) cost a plain attribute lookup, not a call of `__getattr__`.
    """

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown bitstore setting: {name}")
        user = getattr(settings, "BITSTORE", {}) or {}
        value = user.get(name, DEFAULTS[name])
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        self.__dict__.clear()


bitstore_settings = BitstoreSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "BITSTORE":
        bitstore_settings.reload()


setting_changed.connect(_reload)
