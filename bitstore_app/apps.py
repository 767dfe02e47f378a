"""The Django app configuration for bitstore."""

from django.apps import AppConfig


class BitstoreConfig(AppConfig):
    name = "bitstore_app"
    verbose_name = "Bitstore"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, metrics, services, signals  # noqa: F401 - receivers, checks
        from .composer import build_errors
        from .models import Tier

        # A tier is validated by building it, which models do not do themselves.
        Tier.build_errors = staticmethod(build_errors)
        # /metrics shows the cache levels the service built, which metrics do not know.
        metrics.cache_levels = services.levels_in_use
        from .ledger import buffer, exit_on_sigterm

        # The ledger's thread samples the cache levels once a minute; the ledger cannot
        # import the service, which imports it.
        buffer.sampler = services.sample_cache_levels
        exit_on_sigterm()
