"""Every change of a tier moves the configuration version, so all processes rebuild."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ConfigVersion, Tier


@receiver(post_save, sender=Tier, dispatch_uid="bitstore_tier_saved")
@receiver(post_delete, sender=Tier, dispatch_uid="bitstore_tier_deleted")
def bump_config_version(**kwargs) -> None:
    ConfigVersion.bump()
