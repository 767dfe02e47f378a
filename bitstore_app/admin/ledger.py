"""The fetch ledger's admin: read-only, searchable by SHA1 prefix."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from ..core.outcomes import Outcome, attempt_outcome
from ..models import FetchRecord
from . import skip_reasons
from .changelists import BoundedDateChangeList


@admin.register(FetchRecord)
class FetchRecordAdmin(admin.ModelAdmin):
    """The fetch ledger, read-only."""

    class Media:
        css = {"all": ["bitstore_app/admin.css"]}  # long values wrap: the list fits the window

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

    def get_changelist(self, request, **kwargs):
        return BoundedDateChangeList

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

    def get_queryset(self, request):
        return super().get_queryset(request).with_usernames()

    @admin.display(description="asked by")
    def asked_by(self, record: FetchRecord) -> str:
        return record.asked_by

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
                    _said(attempt),
                    f"{attempt.get('ms', 0):.1f}",
                    _detail(attempt),
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


def _said(attempt: dict) -> str:
    """Return what a tier said, for people: "not found", "skipped (circuit open)"."""
    outcome, reason = attempt_outcome(attempt)
    if outcome is None:
        return str(attempt.get("outcome", "?")).replace("_", " ")
    said = outcome.value.replace("_", " ")
    return f"{said} ({reason.replace('_', ' ')})" if reason else said


def _detail(attempt: dict) -> str:
    """Return the attempt's detail; for a tier that was not asked, first why, in words."""
    outcome, reason = attempt_outcome(attempt)
    detail = attempt.get("detail", "")
    if outcome != Outcome.SKIPPED:
        return detail
    return f"{skip_reasons.explain(reason)} {detail}".strip()
