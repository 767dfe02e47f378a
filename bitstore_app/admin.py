"""The operators' admin: tiers in drag-and-drop order, live checks, the ledger, statistics.

Reordering, bulk enable/disable and single saves all move the configuration version (the
tier queryset bumps it on `update`/`bulk_update`, signals on `save`), so every process uses
the new order within `CONFIG_CHECK_INTERVAL` seconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from adminsortable2.admin import SortableAdminMixin
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from . import charts, services, stats
from .composer import TierSpec
from .forms import TierForm, check_quickly, describe_check
from .models import FetchRecord, Tier

#: Tiers checked at the same time by the "check selected tiers" action.
CHECK_WORKERS = 8


@admin.register(Tier)
class TierAdmin(SortableAdminMixin, admin.ModelAdmin):
    form = TierForm
    change_list_template = "admin/bitstore_app/tier/change_list.html"
    list_display = [
        "position",
        "name",
        "kind",
        "role",
        "location",
        "enabled",
        "verify",
        "write_back",
        "credentials_reference",
        "circuit",
    ]
    list_display_links = ["name"]
    list_editable = ["enabled", "verify", "write_back"]
    list_filter = ["enabled", "role", "kind"]
    search_fields = ["name", "location"]
    actions = ["enable_tiers", "disable_tiers", "check_tiers"]
    #: The form's sections; fields added to the model later land in "More settings".
    main_fieldsets = [
        (None, {"fields": ["name", "kind", "location", "role", "enabled"]}),
        ("How it is read", {"fields": ["verify", "write_back"]}),
        ("Connection", {"fields": ["credentials", "options", "connect_timeout", "read_timeout"]}),
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

    @admin.action(description="Enable selected tiers", permissions=["change"])
    def enable_tiers(self, request, queryset) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected tiers", permissions=["change"])
    def disable_tiers(self, request, queryset) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        try:
            with transaction.atomic():
                count = queryset.update(enabled=enabled)
        except IntegrityError:
            self.message_user(
                request,
                "Nothing changed: only one cache tier can be enabled at a time. "
                "Disable the enabled cache tier first.",
                messages.ERROR,
            )
            return
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{count} tier(s) {state}.", messages.SUCCESS)

    @admin.action(description="Check selected tiers (live, nothing is written)")
    def check_tiers(self, request, queryset) -> None:
        specs = [TierSpec.of(tier) for tier in queryset.order_by("position", "id")]
        with ThreadPoolExecutor(max_workers=min(CHECK_WORKERS, len(specs) or 1)) as pool:
            results = list(pool.map(check_quickly, specs))
        for result in results:
            level = messages.SUCCESS if result.reachable else messages.ERROR
            self.message_user(request, describe_check(result), level)

    def get_urls(self):
        statistics = self.admin_site.admin_view(self.statistics_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_statistics"
        return [path("statistics/", statistics, name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "statistics_url": self._statistics_url()}
        return super().changelist_view(request, extra_context)

    def _statistics_url(self) -> str:
        opts = self.opts
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_statistics")

    def statistics_view(self, request):
        """Show each tier's hits, misses, errors, latency and bytes over a chosen window."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = request.GET.get("window", stats.DEFAULT_WINDOW)
        if window not in stats.WINDOWS:
            window = stats.DEFAULT_WINDOW
        report = stats.tier_statistics(window)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Tier statistics",
            "report": report,
            "windows": [(name, f"?{urlencode({'window': name})}") for name in stats.WINDOWS],
            "outcome_chart": mark_safe(charts.outcome_chart(report.tiers)),
            "latency_chart": mark_safe(charts.latency_chart(report.tiers)),
            "ledger_url": reverse(f"{self.admin_site.name}:bitstore_app_fetchrecord_changelist"),
        }
        return TemplateResponse(request, "admin/bitstore_app/tier/statistics.html", context)


@admin.register(FetchRecord)
class FetchRecordAdmin(admin.ModelAdmin):
    """The fetch ledger, read-only."""

    list_display = ["created_at", "sha1", "outcome", "tier_name", "size", "latency_ms", "asked_by"]
    list_filter = ["outcome", "tier", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["sha1"]
    search_help_text = "A whole SHA1, or its first characters."
    show_full_result_count = False
    fields = [
        "sha1",
        "created_at",
        "outcome",
        "tier_name",
        "size",
        "latency_ms",
        "cache_written",
        "asked_by",
        "attempts_table",
        "other_fetches",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        """Match SHA1 prefixes in lower case, so the sha1 index can serve the search."""
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        return queryset.filter(sha1__startswith=term), False

    @admin.display(description="asked by")
    def asked_by(self, record: FetchRecord) -> str:
        if record.user_id is not None:
            return f"user {record.user_id}"
        if record.task_id:
            return f"task {record.task_id}"
        return "-"

    @admin.display(description="tiers tried")
    def attempts_table(self, record: FetchRecord) -> str:
        """The tiers asked, in order, with what each said and how long it took."""
        if not record.attempts:
            return "No tier was asked."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style='text-align:right'>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    number,
                    attempt.get("tier", "?"),
                    attempt.get("outcome", "?").replace("_", " "),
                    f"{attempt.get('ms', 0):.1f}",
                    attempt.get("detail", ""),
                )
                for number, attempt in enumerate(record.attempts, start=1)
            ),
        )
        return format_html(
            "<table class='bitstore-attempts'><thead><tr><th>#</th><th>tier</th><th>outcome</th>"
            "<th>ms</th><th>detail</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="history")
    def other_fetches(self, record: FetchRecord) -> str:
        url = reverse(f"{self.admin_site.name}:bitstore_app_fetchrecord_changelist")
        return format_html(
            "<a href='{}?{}'>Every fetch of this SHA1</a>", url, urlencode({"q": record.sha1})
        )


from . import admin_warm  # noqa: E402, F401 - registers the WarmJob admin
