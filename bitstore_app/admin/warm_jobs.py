"""The warm jobs in the admin: read-only, with a progress bar, and a retry of what failed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from .. import warming
from ..models import WarmJob
from .changelists import BoundedDateChangeList

#: Bar colours: running or done, and done with failed or invalid blobs.
BAR_COLOUR = "#417690"
ERROR_COLOUR = "#ba2121"
#: Enqueuing warm jobs needs the same permission in the admin as over HTTP.
WARM_PERMISSION = "bitstore_app.warm"


@admin.register(WarmJob)
class WarmJobAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["bitstore_app/admin.css"]}  # long values wrap: the list fits the window

    list_display = [
        "id",
        "status",
        "progress_bar",
        "total",
        "warmed",
        "already_cached",
        "not_found",
        "invalid",
        "failed",
        "size",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_display_links = ["id", "status"]
    list_filter = ["status", "created_at"]
    search_fields = ["task_id"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"

    def get_changelist(self, request, **kwargs):
        return BoundedDateChangeList

    actions = ["retry_failed"]
    fieldsets = [
        (None, {"fields": ["status", "progress_bar", "task_id", "created_by", "retry_of"]}),
        (
            "Counts",
            {
                "fields": [
                    "total",
                    "already_cached",
                    "warmed",
                    "not_found",
                    "invalid",
                    "failed",
                    "malformed",
                    "size",
                ]
            },
        ),
        ("Chunks", {"fields": ["chunk_size", "chunks", "chunks_resent"]}),
        ("Time", {"fields": ["created_at", "started_at", "finished_at", "resent_at"]}),
        ("SHA1s", {"fields": ["failed_hashes", "invalid_hashes", "malformed_inputs"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for _, section in self.fieldsets for name in section["fields"]]

    def has_add_permission(self, request):
        return False  # jobs come from warm_cache, bitstore_warm and the retry action

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress_bar(self, job):
        percent = round(job.progress * 100)
        colour = ERROR_COLOUR if job.failed or job.invalid else BAR_COLOUR
        return format_html(
            '<div title="{} of {}" style="display:inline-block; width:72px; height:10px; '
            'border:1px solid #ccc; vertical-align:middle">'
            '<div style="width:{}%; height:100%; background:{}"></div></div> {}%',
            job.processed,
            job.total,
            percent,
            colour,
            percent,
        )

    @admin.display(description="bytes written", ordering="bytes")
    def size(self, job):
        return filesizeformat(job.bytes)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        note = warming.waiting_note(job) if job is not None else None
        if note:
            self.message_user(request, f"{note}.", messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_warm_permission(self, request):
        return request.user.has_perm(WARM_PERMISSION)

    @admin.action(description="Retry failed hashes", permissions=["warm"])
    def retry_failed(self, request, queryset):
        for job in queryset:
            try:
                retry = warming.retry_job(job, created_by=request.user.pk)
            except warming.NoCacheTier as exc:
                self.message_user(request, f"{job}: not retried: {exc}.", messages.ERROR)
                return
            if retry is None:
                self.message_user(request, f"{job}: nothing to retry.", messages.INFO)
            else:
                self.message_user(
                    request,
                    f"{job}: warm job {retry.pk} enqueued for its {retry.total} failed or "
                    "invalid SHA1s.",
                    messages.SUCCESS,
                )
