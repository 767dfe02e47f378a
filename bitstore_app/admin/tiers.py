"""The tiers' admin: drag-and-drop order, live checks, and the statistics page.

Reordering, bulk enable/disable and single saves all move the configuration version (the
tier queryset bumps it on `update`/`bulk_update`, signals on `save`), so every process uses
the new order within `CONFIG_CHECK_INTERVAL` seconds.
"""

from __future__ import annotations

from adminsortable2.admin import SortableAdminMixin
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from .. import services
from ..composer import TierSpec
from ..costs import spending
from ..models import Tier, TierStatistics
from . import budget_left, charts, statistics
from .forms import TierForm, check_many, describe_check
from .trend_charts import level_charts, trend_charts
from .trends import level_trends, tier_trends

#: How the order makes cache levels, said on the tier list and the tier form.
CACHE_LEVELS_HELP = (
    "The enabled cache tiers are the cache levels, level 1 the first in position order: a "
    "blob served by a write-back source is written into every level, a blob served by a "
    "lower level into the levels above it. A level with max bytes (filesystem, memory) "
    "evicts its least recently used blobs to stay under it; a bucket level is bounded by "
    "the bucket's lifecycle rule. Puts (put, uploads, the Storage backend) go into the "
    "sources that accept puts, and into level 1 as well."
)


@admin.register(Tier)
class TierAdmin(SortableAdminMixin, admin.ModelAdmin):
    class Media:
        css = {"all": ["bitstore_app/admin.css"]}  # long values wrap: the list fits the window

    form = TierForm
    change_list_template = "admin/bitstore_app/tier/change_list.html"
    list_display = [
        "position",
        "name",
        "kind",
        "role_and_level",
        "location",
        "enabled",
        "verify",
        "write_back",
        "credentials_reference",
        "circuit",
        "budget_left",
    ]
    list_display_links = ["name"]
    list_editable = ["enabled", "verify", "write_back"]
    list_filter = ["enabled", "role", "kind"]
    search_fields = ["name", "location"]
    actions = ["enable_tiers", "disable_tiers", "check_tiers"]
    #: The form's sections; fields added to the model later land in "More settings".
    main_fieldsets = [
        (None, {"fields": ["name", "kind", "location", "role", "enabled"]}),
        ("How it is read and written", {"fields": ["verify", "write_back", "read_only"]}),
        (
            "Cache levels and puts",
            {"fields": ["max_bytes", "accepts_puts"], "description": CACHE_LEVELS_HELP},
        ),
        ("Connection", {"fields": ["credentials", "options", "connect_timeout", "read_timeout"]}),
        (
            "Cost and limits",
            {
                "fields": [
                    "rate_limit",
                    "price_per_1k_requests",
                    "price_per_gb_read",
                    "price_per_gb_written",
                    "monthly_request_budget",
                    "monthly_spend_budget",
                ],
                "description": budget_left.HOW_COUNTED,
            },
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        placed = {name for _, section in self.main_fieldsets for name in section["fields"]}
        placed.add("probe_now")
        more = [name for name in self.get_fields(request, obj) if name not in placed]
        sections = list(self.main_fieldsets)
        if more:
            sections.append(("More settings", {"fields": more}))
        return [*sections, ("Check", {"fields": ["probe_now"]})]

    @admin.display(description="credentials", ordering="credentials")
    def credentials_reference(self, tier: Tier) -> str:
        """Show the reference's name only; the secret it names is never read here."""
        return tier.credentials or "(default chain)"

    @admin.display(description="circuit")
    def circuit(self, tier: Tier) -> str:
        """The tier's circuit breaker as this web process knows it: open means skipped."""
        return services.breaker_states().get(tier.name, "not used yet")

    @admin.display(description="left this month")
    def budget_left(self, tier: Tier) -> str:
        """What the tier's monthly budgets leave (read once per page from the counters)."""
        return budget_left.describe(tier, self._usage)

    @admin.display(description="role", ordering="role")
    def role_and_level(self, tier: Tier) -> str:
        """The role, with a cache tier's level (1 on top, as the enabled caches' order makes
        it) and size, and whether a source takes puts."""
        notes = ["read-only"] if tier.read_only else []
        if tier.role != Tier.CACHE:
            return ", ".join(["source", *notes, *(["takes puts"] if tier.accepts_puts else [])])
        level = f"level {self._levels[tier.pk]}" if tier.pk in self._levels else "cache (off)"
        bound = [f"max {filesizeformat(tier.max_bytes)}"] if tier.max_bytes else []
        return ", ".join([level, *notes, *bound])

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._usage = budget_left.usage_of(changelist.result_list)
        caches = Tier.objects.enabled().filter(role=Tier.CACHE).values_list("pk", flat=True)
        self._levels = {pk: number for number, pk in enumerate(caches, 1)}
        return changelist

    @admin.action(description="Enable selected tiers", permissions=["change"])
    def enable_tiers(self, request, queryset) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected tiers", permissions=["change"])
    def disable_tiers(self, request, queryset) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        count = queryset.update(enabled=enabled)
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{count} tier(s) {state}.", messages.SUCCESS)

    @admin.action(description="Check selected tiers (live, nothing is written)")
    def check_tiers(self, request, queryset) -> None:
        specs = [TierSpec.of(tier) for tier in queryset.order_by("position", "id")]
        for result in check_many(specs):
            level = messages.SUCCESS if result.reachable else messages.ERROR
            self.message_user(request, describe_check(result), level)

    def get_urls(self):
        view = self.admin_site.admin_view(self.statistics_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_statistics"
        return [path("statistics/", view, name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "statistics_url": self._statistics_url(),
            "cache_levels_help": CACHE_LEVELS_HELP,
        }
        return super().changelist_view(request, extra_context)

    def _statistics_url(self) -> str:
        opts = self.opts
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_statistics")

    def statistics_view(self, request):
        """Show each tier's hits, misses, errors, latency, bytes and spend over a chosen
        window, what the caches saved, who spent it, and the trends."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = request.GET.get("window", statistics.DEFAULT_WINDOW)
        if window not in statistics.WINDOWS:
            window = statistics.DEFAULT_WINDOW
        report = statistics.tier_statistics(window)
        report.levels = statistics.cache_levels(report)
        spend = spending.spend_report(report.since, report.until)
        prices = {tier.tier: tier.prices for tier in spend.tiers}
        trends = tier_trends(report.since, report.until, prices)
        levels = [row.level.tier for row in report.levels if row.level.usage is not None]
        sampled = level_trends(report.since, report.until, levels)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Tier statistics",
            "report": report,
            "windows": [(name, f"?{urlencode({'window': name})}") for name in statistics.WINDOWS],
            "outcome_chart": mark_safe(charts.outcome_chart(report.tiers)),
            "latency_chart": mark_safe(charts.latency_chart(report.tiers)),
            "spend": spend,
            "trend_charts": [mark_safe(chart) for chart in trend_charts(trends)],
            "level_charts": [mark_safe(chart) for chart in level_charts(sampled)]
            if sampled.values
            else [],
            "ledger_url": reverse(f"{self.admin_site.name}:bitstore_app_fetchrecord_changelist"),
        }
        return TemplateResponse(request, "admin/bitstore_app/tier/statistics.html", context)


@admin.register(TierStatistics)
class TierStatisticsAdmin(admin.ModelAdmin):
    """The index's link to the statistics page, which lives with the tiers' admin."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("bitstore_app.view_tier")

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("admin:bitstore_app_tier_statistics"))
