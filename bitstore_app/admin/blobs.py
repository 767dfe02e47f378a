"""The Blob page: which tiers hold a SHA1 now (asked live, at once), its ledger history, a
signed download link, and an upload form.

`Blob` has no table; its permissions are the endpoints' (`view_blob` to see this page,
`add_blob` to upload), which are also the admin's view and add permissions for it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from .. import uploads
from ..composer import TierSpec
from ..core import BitstoreError, InvalidURI, parse_sha1
from ..models import Blob, FetchRecord, Tier
from ..web.signed_urls import signed_blob_url
from .forms import check_many

#: Ledger records shown on the page, newest first.
HISTORY = 50


class LookupForm(forms.Form):
    sha1 = forms.CharField(
        label="SHA1", max_length=50, widget=forms.TextInput(attrs={"size": 48, "autofocus": True})
    )

    def clean_sha1(self) -> str:
        try:
            return parse_sha1(self.cleaned_data["sha1"].strip())
        except InvalidURI:
            raise forms.ValidationError("A SHA1 is 40 hexadecimal digits.") from None


class UploadForm(forms.Form):
    file = forms.FileField(help_text="Stored in the tier uploads go to; its SHA1 names it.")


def where_held(sha1: str) -> list:
    """Ask every enabled tier at once whether it holds the blob (existence checks only)."""
    return check_many([TierSpec.of(tier) for tier in Tier.objects.enabled()], sha1)


@admin.register(Blob)
class BlobAdmin(admin.ModelAdmin):
    """One page, at the Blob changelist's URL."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:bitstore_app_blob_changelist"))

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        may_upload = self.has_add_permission(request)
        if request.method == "POST" and may_upload:
            return self._upload(request)
        lookup = LookupForm(request.GET or None)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.opts,
            "title": "Blob",
            "lookup": lookup,
            "upload": UploadForm() if may_upload else None,
        }
        if lookup.is_valid():
            sha1 = lookup.cleaned_data["sha1"]
            context.update(
                sha1=sha1,
                checks=where_held(sha1),
                history=FetchRecord.objects.for_sha1(sha1).with_usernames()[:HISTORY],
                download_url=signed_blob_url(sha1, download=sha1),
            )
        return TemplateResponse(request, "admin/bitstore_app/blob/page.html", context)

    def _upload(self, request):
        form = UploadForm(request.POST, request.FILES)
        page = reverse("admin:bitstore_app_blob_changelist")
        if not form.is_valid():
            self.message_user(request, "Choose a file to upload.", messages.ERROR)
            return HttpResponseRedirect(page)
        try:
            stored = uploads.store(form.cleaned_data["file"].chunks())
        except (uploads.TooLarge, NotImplementedError, BitstoreError, OSError) as exc:
            self.message_user(request, f"The file was not stored: {exc}", messages.ERROR)
            return HttpResponseRedirect(page)
        said = "stored" if stored.created else "already held, nothing written"
        self.message_user(request, f"{stored.sha1} ({stored.size} bytes): {said}.")
        return HttpResponseRedirect(f"{page}?{urlencode({'sha1': stored.sha1})}")
