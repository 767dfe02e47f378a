"""API tokens in the admin: created with a form that shows the token once, revoked by action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from ..models import ApiToken
from ..web.tokens import issue


class ApiTokenForm(forms.ModelForm):
    """A new token: whose, what for, its scopes and when it expires."""

    scopes = forms.MultipleChoiceField(
        choices=ApiToken.SCOPES, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["bitstore_app/admin.css"]}  # long values wrap: the list fits the window

    list_display = ["name", "prefix", "user", "scope_list", "created_at", "expires_at", "state"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]
    readonly_fields = ["user", "name", "prefix", "scopes", "expires_at", "created_at", "revoked_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a token is created, read and revoked; never edited

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        row, token = issue(data["user"], data["name"], data["scopes"], data["expires_at"])
        obj.pk, obj.prefix = row.pk, row.prefix
        request._bitstore_new_token = token

    def response_add(self, request, obj, post_url_continue=None):
        """Show the token on this page only: it is not stored, and never shown again."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Copy the new API token now",
            "row": obj,
            "token": request._bitstore_new_token,
        }
        return TemplateResponse(request, "admin/bitstore_app/apitoken/created.html", context)

    @admin.display(description="scopes")
    def scope_list(self, row: ApiToken) -> str:
        return ", ".join(row.scopes)

    @admin.display(description="state")
    def state(self, row: ApiToken) -> str:
        from django.utils import timezone

        if row.revoked_at is not None:
            return "revoked"
        if row.expires_at is not None and row.expires_at <= timezone.now():
            return "expired"
        return "active"

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke(self, request, queryset) -> None:
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
