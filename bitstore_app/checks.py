"""`manage.py check` reports tier misconfiguration.

W001 no enabled tier; W002 write-back with no cache tier; E001 an unknown kind or dotted path;
E002 a credentials reference that does not resolve; E003 a bad location; E004 bad options;
E009 anything else that stops a tier from being built. Each message names the tier and its id.
W003 DEBUG is on without bitstore's exception reporter filter: an error page could show
credentials.
E010 BitstoreStorage as the static files storage (also reported by collectstatic).
"""

from __future__ import annotations

from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from .composer import TierConfigError, TierSpec, validate

#: The check id for a TierConfigError, by the field it names.
ERROR_IDS = {"kind": "E001", "credentials": "E002", "location": "E003", "options": "E004"}


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
    has_cache = any(tier.role == Tier.CACHE for tier in tiers)
    problems = []
    for tier in tiers:
        if tier.write_back and not has_cache:
            problems.append(
                Warning(
                    f"{_label(tier)} writes back, but no cache tier is enabled.",
                    hint="Enable a tier with the role 'cache', or turn off write-back.",
                    obj=tier,
                    id="bitstore.W002",
                )
            )
        problems.extend(_build_errors(tier))
    return problems


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
