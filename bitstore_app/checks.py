"""`manage.py check` reports tier misconfiguration."""

from __future__ import annotations

from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from .composer import TierConfigError, TierSpec, build_tier


@register("bitstore")
def check_tiers(app_configs=None, **kwargs) -> list:
    from .models import Tier

    try:
        tiers = list(Tier.objects.enabled())
    except (DatabaseError, RuntimeError):
        # Not migrated yet, or a test runner that blocks database access: nothing to check.
        return []
    problems = []
    if not tiers:
        problems.append(
            Warning(
                "No tier is enabled: every get will raise NotFoundInStore.",
                hint="Add a tier in the admin, under Bitstore > Tiers.",
                id="bitstore.W001",
            )
        )
    has_cache = any(tier.role == Tier.CACHE for tier in tiers)
    for tier in tiers:
        if tier.write_back and not has_cache:
            problems.append(
                Warning(
                    f"Tier '{tier.name}' writes back, but no cache tier is enabled.",
                    hint="Enable a tier with the role 'cache', or turn off write-back.",
                    obj=tier,
                    id="bitstore.W002",
                )
            )
        try:
            build_tier(TierSpec.of(tier))
        except TierConfigError as exc:
            problems.append(
                Error(f"Tier '{tier.name}': {exc}", obj=tier, id=f"bitstore.E00{_code(exc)}")
            )
        except Exception as exc:
            problems.append(Error(f"Tier '{tier.name}': {exc}", obj=tier, id="bitstore.E009"))
    return problems


def _code(exc: TierConfigError) -> int:
    """E001 kind, E002 credentials, E003 location, E004 options."""
    return {"kind": 1, "credentials": 2, "location": 3, "options": 4}.get(exc.field, 9)
