"""`manage.py check` reports tier misconfiguration.

W001 no enabled tier; W002 write-back with no cache level that can be written; W004 a
write-back source asked before a cache level; W005 puts refused (no source accepts puts, and
the cache levels are several or bounded); I001 the cache levels in order, when there are
several. E001 an unknown kind or dotted path; E002 a credentials reference that does not
resolve; E003 a bad location; E004 bad options; E005 a max bytes the kind cannot keep to; E009
anything else that stops a tier from being built. Each message names the tier and its id.
W003 DEBUG is on without bitstore's exception reporter filter: an error page could show
credentials.
E010 BitstoreStorage as the static files storage (also reported by collectstatic).
"""

from __future__ import annotations

from django.core.checks import Error, Info, Tags, Warning, register
from django.db import DatabaseError

from .composer import TierConfigError, TierSpec, validate

#: The check id for a TierConfigError, by the field it names.
ERROR_IDS = {
    "kind": "E001",
    "credentials": "E002",
    "location": "E003",
    "options": "E004",
    "max_bytes": "E005",
}


@register("bitstore")
def check_error_reports(app_configs=None, **kwargs) -> list:
    from django.conf import settings
    from django.utils.module_loading import import_string

    from .error_reports import FILTER_PATH, CredentialsFilter

    if not settings.DEBUG:
        return []
    try:
        used = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)
    except ImportError:
        used = None
    if isinstance(used, type) and issubclass(used, CredentialsFilter):
        return []
    return [
        Warning(
            "DEBUG is on and error pages use a filter that shows the environment and the "
            "frames where tiers hold their resolved credentials.",
            hint=f"Set DEFAULT_EXCEPTION_REPORTER_FILTER = {FILTER_PATH!r}, or turn DEBUG off.",
            id="bitstore.W003",
        )
    ]


@register("bitstore")
def check_tiers(app_configs=None, **kwargs) -> list:
    from .models import Tier

    try:
        tiers = list(Tier.objects.enabled())
    except (DatabaseError, RuntimeError):
        # Not migrated yet, or a test runner that blocks database access: nothing to check.
        return []
    if not tiers:
        return [
            Warning(
                "No tier is enabled: every get will raise NotFoundInStore.",
                hint="Add a tier in the admin, under Bitstore > Tiers.",
                id="bitstore.W001",
            )
        ]
    levels = [tier for tier in tiers if tier.role == Tier.CACHE]
    writable = [level for level in levels if not level.read_only]
    problems = []
    for tier in tiers:
        if tier.write_back and not writable:
            problems.append(
                Warning(
                    f"{_label(tier)} writes back, but no cache level that can be written is "
                    "enabled.",
                    hint="Enable a tier with the role 'cache' that is not read-only, or turn "
                    "off write-back.",
                    obj=tier,
                    id="bitstore.W002",
                )
            )
        problems.extend(_build_errors(tier))
    return problems + _order_problems(tiers, levels) + _put_problems(tiers, writable)


def _order_problems(tiers: list, levels: list) -> list:
    """Say how the order makes cache levels, and warn of a paid source asked before one."""
    problems = []
    for index, tier in enumerate(tiers):
        later = [level for level in tiers[index + 1 :] if level in levels]
        if tier.write_back and later:
            names = ", ".join(f"'{level.name}'" for level in later)
            problems.append(
                Warning(
                    f"{_label(tier)} writes back into the cache levels, but is asked before "
                    f"{names}: every fetch it serves asks it first, the levels only after it.",
                    hint="Give the cache levels lower positions than the write-back sources.",
                    obj=tier,
                    id="bitstore.W004",
                )
            )
    if len(levels) > 1:
        order = "; ".join(
            f"{number} '{level.name}' ({_describe(level)})"
            for number, level in enumerate(levels, 1)
        )
        problems.append(
            Info(
                f"Cache levels, top first: {order}. A blob from a write-back source is written "
                "into every level; a blob from a lower level into the levels above it.",
                id="bitstore.I001",
            )
        )
    return problems


def _describe(level) -> str:
    notes = [level.kind]
    if level.read_only:
        notes.append("read-only")
    if level.max_bytes:
        notes.append(f"max {level.max_bytes} bytes")
    elif level.kind in ("s3", "gs"):
        notes.append("bounded by the bucket's lifecycle rule")
    else:
        notes.append("unbounded")
    return ", ".join(notes)


def _put_problems(tiers: list, writable: list) -> list:
    """Warn when cache levels are there but puts are refused (a setup that only reads, with
    no cache level, is not warned)."""
    if not writable or any(tier.accepts_puts for tier in tiers):
        return []
    if len(writable) == 1 and writable[0].max_bytes is None:
        return []  # the one unbounded cache level takes puts, as before cache levels
    if len(writable) > 1:
        reason = f"and there are {len(writable)} cache levels"
    else:
        reason = f"and the cache level '{writable[0].name}' is bounded: it would evict them"
    return [
        Warning(
            f"put, uploads and the Storage backend are refused: no source accepts puts, {reason}.",
            hint="Tick 'accepts puts' on a durable source tier (a bucket, a folder).",
            id="bitstore.W005",
        )
    ]


def _build_errors(tier) -> list:
    try:
        validate(TierSpec.of(tier))
    except TierConfigError as exc:
        check_id = ERROR_IDS.get(exc.field, "E009")
        field = f" ({exc.field})" if exc.field else ""
        return [Error(f"{_label(tier)}{field}: {exc}", obj=tier, id=f"bitstore.{check_id}")]
    except Exception as exc:  # anything else that stops the tier from being built
        message = f"{_label(tier)}: {type(exc).__name__}: {exc}"
        return [Error(message, obj=tier, id="bitstore.E009")]
    return []


def _label(tier) -> str:
    return f"Tier '{tier.name}' (id {tier.pk})"


@register(Tags.staticfiles)
def check_static_storage(app_configs=None, **kwargs) -> list:
    """Refuse BitstoreStorage as the static files storage: static files are found by path."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from .storage import BitstoreStorage

    backend = getattr(settings, "STORAGES", {}).get("staticfiles", {}).get("BACKEND", "")
    try:
        storage_class = import_string(backend) if backend else None
    except ImportError:
        return []  # Django's own checks report a backend that does not import
    if not (isinstance(storage_class, type) and issubclass(storage_class, BitstoreStorage)):
        return []
    return [
        Error(
            "BitstoreStorage cannot be the static files storage: it names each file by its "
            "SHA1, and static files are looked up by their paths.",
            hint="Keep STORAGES['staticfiles'] on a path-based storage (the default, or "
            "django-storages' S3Storage); use BitstoreStorage for FileFields and uploads.",
            id="bitstore.E010",
        )
    ]
