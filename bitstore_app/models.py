"""Tiers, the configuration version, and the fetch ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from .core.outcomes import FETCH_OUTCOMES, Outcome
from .core.tiers import kind_help, location_help
from .ledger.rollups import COLUMNS as ROLLUP_COLUMNS
from .querysets import ApiTokenQuerySet, FetchRecordQuerySet, TierQuerySet

#: What each kind takes, as its class says (core/tiers/).
KIND_HELP = kind_help()
LOCATION_HELP = location_help()
CREDENTIALS_HELP = (
    "Empty for the default chain, 'anonymous', the name of an entry in "
    "BITSTORE['CREDENTIALS'], or env:VARIABLE (JSON). Never a secret itself."
)


class Tier(models.Model):
    """One place blobs are read from (a source) or written into (a cache level)."""

    SOURCE = "source"
    CACHE = "cache"
    ROLES = [(SOURCE, "Source"), (CACHE, "Cache")]

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=200, help_text=KIND_HELP)
    location = models.CharField(max_length=1000, blank=True, help_text=LOCATION_HELP)
    role = models.CharField(
        max_length=10,
        choices=ROLES,
        default=SOURCE,
        help_text="Enabled cache tiers are the cache levels, the first in position order on "
        "top: a blob from a write-back source is written into every level, a blob from a "
        "lower level into the levels above it.",
    )
    position = models.PositiveIntegerField(
        default=0, db_index=True, help_text="Tiers are tried in increasing position."
    )
    enabled = models.BooleanField(default=True)
    verify = models.BooleanField(
        default=False,
        help_text="Sources only: check the SHA1 of what this source returns before using it, "
        "and ask the next tier when it does not match. Caches always verify, ticked or not. "
        "Unticked, a wrong blob is still never cached, and the blob URL cuts it short.",
    )
    write_back = models.BooleanField(
        default=False, help_text="Blobs this tier serves are written into every cache level."
    )
    read_only = models.BooleanField(
        default=False,
        verbose_name="read-only",
        help_text="Never written by bitstore, even as a cache level (say, a bucket another "
        "system fills): read, and promoted from into the levels above it.",
    )
    accepts_puts = models.BooleanField(
        default=False,
        verbose_name="accepts puts",
        help_text="Sources only: put, uploads and the Storage backend write here (a durable "
        "tier, never evicted), and place the blob in the top cache level too. Without such "
        "a tier, a put is refused unless the only cache level is unbounded.",
    )
    max_bytes = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="max bytes",
        help_text="Caches of kind filesystem or memory: keep the level at or under this many "
        "bytes, the least recently used blobs evicted first (empty: unbounded). A bucket "
        "level is bounded by the bucket's lifecycle rule instead.",
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Keyword options for the tier's class, as JSON."
    )
    credentials = models.CharField(max_length=200, blank=True, help_text=CREDENTIALS_HELP)
    connect_timeout = models.FloatField(default=5.0, help_text="Seconds.")
    read_timeout = models.FloatField(default=30.0, help_text="Seconds.")
    rate_limit = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0)],
        verbose_name="rate limit",
        help_text="Requests per second to this tier, shared by all workers (0: unlimited). "
        "Every read, existence check and cache warming keeps to it.",
    )
    price_per_1k_requests = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        verbose_name="price per 1,000 requests",
        help_text="What 1,000 requests to this tier cost (empty: free); any currency.",
    )
    price_per_gb_read = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        verbose_name="price per GB read",
        help_text="What reading 10^9 bytes from this tier costs (egress; empty: free).",
    )
    price_per_gb_written = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        verbose_name="price per GB written",
        help_text="What writing 10^9 bytes into this tier costs (caches; empty: free).",
    )
    monthly_request_budget = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        verbose_name="monthly request budget",
        help_text="Requests per UTC calendar month, shared by all workers; once made, the tier "
        "is skipped until the month ends or this is raised (empty: no budget).",
    )
    monthly_spend_budget = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        verbose_name="monthly spend budget",
        help_text="Spend per UTC calendar month at this tier's prices; once spent, the tier is "
        "skipped until the month ends or this is raised (empty: no budget).",
    )
    retries = models.PositiveSmallIntegerField(
        default=2,
        help_text="Retries of transient errors (dropped connections, 429, 5xx), with backoff. "
        "Timeouts, 403 and 404 are never retried.",
    )
    breaker_threshold = models.PositiveSmallIntegerField(
        default=5,
        verbose_name="circuit breaker threshold",
        help_text="Consecutive failures after which the tier is skipped for the cool-down "
        "(0: never skipped).",
    )
    breaker_cooldown = models.FloatField(
        default=30.0,
        verbose_name="circuit breaker cool-down",
        help_text="Seconds a failing tier is skipped before one trial request decides.",
    )
    negative_ttl = models.FloatField(
        default=5.0,
        verbose_name="negative cache TTL",
        help_text="Seconds a 'not found' answer is remembered, per blob (0: off). Cleared when "
        "the blob is written.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TierQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.write_back and self.role == self.CACHE:
            raise ValidationError({"write_back": "A cache tier cannot write back into itself."})
        if self.max_bytes is not None and (self.role != self.CACHE or self.read_only):
            raise ValidationError(
                {"max_bytes": "Only a cache level bitstore writes evicts: leave it empty."}
            )
        if self.accepts_puts and (self.role == self.CACHE or self.read_only):
            raise ValidationError(
                {
                    "accepts_puts": "Puts need a durable source that can be written: not a cache "
                    "level (it may evict them), not a read-only tier."
                }
            )
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValidationError("Timeouts must be positive numbers of seconds.")
        if self.breaker_cooldown < 0 or self.negative_ttl < 0:
            raise ValidationError("The cool-down and the negative cache TTL cannot be negative.")
        if not isinstance(self.options, dict):
            raise ValidationError({"options": "Options must be a JSON object, such as {}."})
        errors = type(self).build_errors(self)
        if errors:
            raise ValidationError(errors)

    #: Return {field: message} for what would stop this tier from being built. Models build
    #: no tiers: the app's `ready()` sets this to the composer's `build_errors`.
    build_errors: ClassVar[Callable[[Tier], dict[str, str]]] = staticmethod(lambda tier: {})


class ConfigVersion(models.Model):
    """A single row whose number moves whenever any tier changes."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "configuration version"

    @classmethod
    def current(cls) -> int:
        row = cls.objects.filter(pk=1).values_list("version", flat=True).first()
        return row or 0

    @classmethod
    def bump(cls) -> None:
        if not cls.objects.filter(pk=1).update(version=F("version") + 1):
            cls.objects.get_or_create(pk=1, defaults={"version": 1})


class FetchRecord(models.Model):
    """One fetch of one blob: who asked, which tiers were tried, and what each said."""

    HIT = Outcome.HIT.value
    NOT_FOUND = Outcome.NOT_FOUND.value
    ERROR = Outcome.ERROR.value
    INVALID = Outcome.INVALID.value
    OUTCOMES = [(outcome.value, outcome.label) for outcome in FETCH_OUTCOMES]

    sha1 = models.CharField(max_length=40, verbose_name="SHA1")
    # No database constraint: checking it row by row costs a third of a ledger write, so the
    # writer locks the batch's tiers once instead (ledger/writer.py); deleting a tier still
    # sets its records' tier to NULL (Django does that). The (tier, created_at) index below
    # serves the lookups a single-column index would.
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fetches",
        db_constraint=False,
        db_index=False,
    )
    tier_name = models.CharField(max_length=100, blank=True, help_text="The tier that served it.")
    outcome = models.CharField(max_length=10, choices=OUTCOMES)
    attempts = models.JSONField(
        default=list, help_text="Each tier tried, in order: its outcome and milliseconds."
    )
    size = models.BigIntegerField(default=0, help_text="Bytes served.")
    latency_ms = models.FloatField(help_text="Total milliseconds.")
    cache_written = models.BooleanField(default=False)
    written_to = models.JSONField(
        default=list, blank=True, help_text="The cache levels the blob was written into."
    )
    user_id = models.BigIntegerField(null=True, blank=True, help_text="Web requests.")
    task_id = models.CharField(max_length=255, blank=True, help_text="Celery tasks.")
    created_at = models.DateTimeField(db_index=True)

    objects = FetchRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sha1", "-created_at"], name="bitstore_fetch_sha1"),
            models.Index(fields=["tier", "created_at"], name="bitstore_fetch_tier"),
            models.Index(fields=["outcome", "created_at"], name="bitstore_fetch_outcome"),
            # The records that wrote into the cache levels: a blob's newest fill, whose source
            # its cache hits are saved at, is one probe (ledger/fillers.py).
            models.Index(
                fields=["sha1", "-created_at"],
                condition=Q(cache_written=True),
                name="bitstore_fetch_fills",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sha1} {self.outcome} {self.tier_name or '-'}"

    @property
    def asked_by(self) -> str:
        """Who asked: the user's name (with `with_usernames()`), or the Celery task."""
        if self.user_id is not None:
            return getattr(self, "username", None) or f"user {self.user_id}"
        return f"task {self.task_id}" if self.task_id else "-"


class LedgerRollup(models.Model):
    """One tier's fetches in one minute, summed as the ledger is flushed (see ledger/rollups.py).

    The statistics page and cost reports read these rows, never the ledger itself; the tier
    name "" holds whole fetches. `bitstore_ledger_rollups` rebuilds them from the ledger.
    """

    minute = models.DateTimeField(help_text="The minute the fetches started in (UTC).")
    tier_name = models.CharField(
        max_length=100, blank=True, help_text='The tier asked; "" for whole fetches.'
    )

    class Meta:
        verbose_name = "ledger rollup"
        constraints = [
            models.UniqueConstraint(fields=["minute", "tier_name"], name="bitstore_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.tier_name or 'all fetches'}"


# One counter column per rollup column, named in ledger/rollups.py so the writer, the backfill and
# the readers agree on them.
for _column in ROLLUP_COLUMNS:
    LedgerRollup.add_to_class(_column, models.BigIntegerField(default=0))
del _column


class CacheLevelSample(models.Model):
    """What one cache level held in one minute, as the level counts it (ledger/level_samples.py).

    Every process that serves fetches samples its cache levels at most once a minute, from
    the ledger's background thread; the newest sample of a minute is kept. The statistics
    page charts them.
    """

    minute = models.DateTimeField(help_text="The minute the sample was taken in (UTC).")
    tier_name = models.CharField(max_length=100, help_text="The cache level's tier.")
    taken_at = models.DateTimeField(help_text="When the sample was taken: the newest is kept.")
    bytes = models.BigIntegerField(help_text="Bytes held.")
    blobs = models.BigIntegerField(help_text="Blobs held.")
    evictions = models.BigIntegerField(
        help_text="Blobs evicted since the level was first counted (a running count)."
    )

    class Meta:
        verbose_name = "cache level sample"
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "tier_name"], name="bitstore_level_sample_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.tier_name}"


class Blob(models.Model):
    """No table: the permissions that guard the blob endpoints (blobs may be customer data,
    so a user needs `view_blob` to download, `warm` to enqueue warm jobs and `add_blob` to
    upload)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_blob", "Can download blobs over HTTP"),
            ("warm", "Can enqueue cache warming jobs over HTTP"),
            ("add_blob", "Can upload blobs over HTTP"),
        ]


class WarmJob(models.Model):
    """A cache-warming job: blobs fetched from the sources into the cache tier by workers.

    Workers add their chunks' counts with F() expressions; the job is finished when every
    entry is counted under exactly one outcome.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DONE_WITH_ERRORS = "done_with_errors"
    STATUSES = [
        (QUEUED, "Queued"),
        (RUNNING, "Running"),
        (DONE, "Done"),
        (DONE_WITH_ERRORS, "Done, some failed or invalid"),
    ]
    #: Counters that add up to `total` once the job is finished.
    OUTCOMES = ("already_cached", "warmed", "not_found", "invalid", "failed", "malformed")
    #: Malformed entries kept for the report; the count is always exact.
    MALFORMED_KEPT = 1000

    status = models.CharField(max_length=20, choices=STATUSES, default=QUEUED)
    total = models.PositiveIntegerField(
        default=0, help_text="Distinct SHA1s in the job, plus the malformed entries."
    )
    already_cached = models.PositiveIntegerField(
        default=0, help_text="Already in the cache tier: not fetched."
    )
    warmed = models.PositiveIntegerField(
        default=0, help_text="Fetched from a source and written into the cache tier."
    )
    not_found = models.PositiveIntegerField(
        default=0, verbose_name="not found", help_text="No source has them (final)."
    )
    invalid = models.PositiveIntegerField(
        default=0,
        verbose_name="invalid data",
        help_text="Sources returned data that does not match the SHA1; never cached.",
    )
    failed = models.PositiveIntegerField(
        default=0,
        help_text="Still failing after the retries: a tier not available, a timeout, throttling.",
    )
    malformed = models.PositiveIntegerField(
        default=0, help_text="Entries of the input that are not SHA1s; skipped."
    )
    bytes = models.PositiveBigIntegerField(default=0, help_text="Bytes written into the cache.")
    chunk_size = models.PositiveIntegerField(default=0, help_text="SHA1s per chunk task.")
    chunks = models.PositiveIntegerField(default=0, help_text="Chunk tasks.")
    failed_hashes = models.JSONField(
        default=list, blank=True, help_text="The SHA1s that failed: retry them from the admin."
    )
    invalid_hashes = models.JSONField(
        default=list, blank=True, help_text="The SHA1s whose sources returned invalid data."
    )
    malformed_inputs = models.JSONField(
        default=list, blank=True, help_text="The first 1,000 malformed entries."
    )
    task_id = models.CharField(
        max_length=255, blank=True, help_text="The warm_cache task that created the job."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        help_text="The job whose failed SHA1s this job retries.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the chunks not yet counted were last sent again, the job having "
        "counted nothing for WARM_STALL_AFTER seconds (a broker lost their messages).",
    )
    chunks_resent = models.PositiveIntegerField(
        default=0, help_text="Chunk tasks sent again because the job had stalled."
    )

    class Meta:
        verbose_name = "warm job"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_id"], condition=~Q(task_id=""), name="bitstore_warmjob_task_id"
            )
        ]

    def __str__(self) -> str:
        return f"warm job {self.pk} ({self.get_status_display().lower()})"

    @property
    def processed(self) -> int:
        """Entries counted so far, under any outcome."""
        return sum(getattr(self, name) for name in self.OUTCOMES)

    @property
    def progress(self) -> float:
        """The fraction of the entries counted, from 0 to 1."""
        return min(self.processed / self.total, 1.0) if self.total else 1.0

    @property
    def retryable_hashes(self) -> list[str]:
        """The SHA1s worth another job: those that failed and those with invalid data."""
        return [*self.failed_hashes, *self.invalid_hashes]


class WarmJobHashes(models.Model):
    """A warm job's SHA1s, in order, kept apart from the job's row (which every chunk
    updates): what its chunks are made of when they are sent again."""

    job = models.OneToOneField(
        WarmJob, on_delete=models.CASCADE, primary_key=True, related_name="input"
    )
    hashes = models.JSONField(default=list)

    class Meta:
        verbose_name = "warm job's SHA1s"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"SHA1s of warm job {self.job_id}"


class WarmChunk(models.Model):
    """One attempt at one chunk of a warm job, written with the counts it added: a task
    delivered twice finds it and counts nothing."""

    job = models.ForeignKey(WarmJob, on_delete=models.CASCADE, related_name="chunk_attempts")
    index = models.PositiveIntegerField()
    attempt = models.PositiveSmallIntegerField(default=0)
    retry_hashes = models.JSONField(
        default=list, blank=True, help_text="SHA1s that failed for now: the next attempt's."
    )
    finished_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "warm job chunk"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "index", "attempt"], name="bitstore_warmchunk_once"
            )
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index} attempt {self.attempt}"


class ApiToken(models.Model):
    """A user's key for programs: `Authorization: Bearer <token>`, limited to its scopes.

    Only the SHA-256 of the token is kept (it is shown once, when created); the prefix
    tells tokens apart in lists.
    """

    READ = "read"
    WARM = "warm"
    UPLOAD = "upload"
    SCOPES = [(READ, "read blobs"), (WARM, "enqueue and follow warm jobs"), (UPLOAD, "upload")]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bitstore_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The token's first characters."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of read, warm, upload.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: the token does not expire."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    def clean(self) -> None:
        known = {scope for scope, _ in self.SCOPES}
        if not isinstance(self.scopes, list) or not set(self.scopes) <= known:
            raise ValidationError({"scopes": f"Scopes are a list of: {', '.join(sorted(known))}."})


class TierStatistics(Tier):
    """No table of its own: the admin index's entry for the tier statistics page."""

    class Meta:
        proxy = True
        verbose_name = "statistics"
        verbose_name_plural = "statistics"
        default_permissions = ()
