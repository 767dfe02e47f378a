"""The admin's tier form: it validates a tier by building it, and optionally by asking it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from django import forms

from .. import services
from ..composer import TierConfigError, TierSpec, validate
from ..conf import bitstore_settings
from ..core.tiers import KINDS
from ..credentials import CredentialsError, resolve
from ..models import Tier

#: The values a tier is built from (a TierSpec's fields); while one of them is invalid in the
#: form, nothing is built.
SPEC_FIELDS = tuple(name for name in TierSpec.__dataclass_fields__ if name != "id")


def check_quickly(spec: TierSpec, sha1: str = services.CHECK_SHA1) -> services.TierCheck:
    """Check the tier live (whether it holds `sha1`), with its timeouts capped at
    `PROBE_TIMEOUT` so a tier that is down answers within seconds."""
    cap = bitstore_settings.PROBE_TIMEOUT
    quick = {"connect_timeout": min(spec.connect_timeout, cap)}
    quick["read_timeout"] = min(spec.read_timeout, cap)
    if "retries" in TierSpec.__dataclass_fields__:
        quick["retries"] = min(spec.retries, 1)
    return services.check_tier(replace(spec, **quick), sha1)


#: Tiers checked at the same time (the "check selected tiers" action, the Blob page).
CHECK_WORKERS = 8


def check_many(specs: list[TierSpec], sha1: str = services.CHECK_SHA1) -> list:
    """Check the tiers live, all at once, as `check_quickly` does; results in their order."""
    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=min(CHECK_WORKERS, len(specs))) as pool:
        return list(pool.map(lambda spec: check_quickly(spec, sha1), specs))


def describe_check(result: services.TierCheck) -> str:
    """Return an operator's sentence for a tier check's result."""
    ms = result.seconds * 1000
    ms = f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"
    if result.reachable:
        return f"Tier '{result.tier}' is reachable: it answered in {ms}."
    return f"Tier '{result.tier}' is NOT reachable (gave up after {ms}): {result.error[:400]}"


def _sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


#: The choice of the kind select that reveals the dotted path box.
CUSTOM = "custom"


class KindWidget(forms.MultiWidget):
    """A select of the registered kinds plus "custom class", and a box for its dotted path."""

    template_name = "admin/bitstore_app/tier/kind_widget.html"

    def __init__(self) -> None:
        choices = [(kind, kind) for kind in KINDS] + [(CUSTOM, "custom class (dotted path)")]
        path = forms.TextInput(attrs={"size": 50, "placeholder": "myapp.tiers.MyStore"})
        super().__init__([forms.Select(choices=choices), path])

    def decompress(self, value: str | None) -> list[str]:
        if not value:
            return [next(iter(KINDS)), ""]
        return [value, ""] if value in KINDS else [CUSTOM, value]

    def value_from_datadict(self, data, files, name) -> str:
        if name in data:  # a plain value, as a script or an older form posts it
            return data[name]
        choice, path = super().value_from_datadict(data, files, name)
        return (path or "").strip() if choice == CUSTOM else choice

    def value_omitted_from_data(self, data, files, name) -> bool:
        return name not in data and super().value_omitted_from_data(data, files, name)


class TierForm(forms.ModelForm):
    """Add or change a tier; it is saved only if it can be built (and reached, if asked)."""

    probe_now = forms.BooleanField(
        required=False,
        label="Check the tier now",
        help_text="Before saving, ask the tier live for a key (nothing is written). "
        "The tier is not saved if it cannot be reached.",
    )

    class Meta:
        model = Tier
        exclude = ["position"]  # set by dragging rows in the tier list
        widgets = {
            "kind": KindWidget(),
            "location": forms.TextInput(attrs={"size": 70}),
            "options": forms.Textarea(
                attrs={"rows": 4, "cols": 70, "style": "font-family: monospace"}
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].help_text = (
            f"One of {', '.join(KINDS)}, or 'custom class' and the dotted path of a custom "
            "Store or Sha1APISource class."
        )
        names = sorted(bitstore_settings.CREDENTIALS)
        known = f" Names defined here: {', '.join(names)}." if names else ""
        self.fields["credentials"].help_text = (
            "A reference, never a secret: empty for the default chain, 'anonymous' for public "
            "data, a name from BITSTORE['CREDENTIALS'], or env:VARIABLE." + known
        )

    def clean_options(self) -> dict:
        options = self.cleaned_data.get("options")
        if options is None:
            return {}
        if not isinstance(options, dict):
            raise forms.ValidationError(
                "Options must be a JSON object of option names and values, such as "
                '{"endpoint_url": "http://127.0.0.1:9000"}, not a '
                f"{type(options).__name__}."
            )
        return options

    def clean_credentials(self) -> str:
        reference = (self.cleaned_data.get("credentials") or "").strip()
        try:
            resolve(reference)
        except CredentialsError as exc:
            raise forms.ValidationError(_sentence(str(exc))) from None
        return reference

    def clean_connect_timeout(self) -> float:
        return self._positive("connect_timeout")

    def clean_read_timeout(self) -> float:
        return self._positive("read_timeout")

    def _positive(self, name: str) -> float:
        value = self.cleaned_data.get(name)
        if value is not None and value <= 0:
            raise forms.ValidationError("Enter a number of seconds greater than zero.")
        return value

    def clean(self) -> dict:
        """Probe the tier live when asked to, once it is known to be buildable.

        Whether it can be built is `Tier.clean()`'s to say (it runs after this and puts each
        error next to the field at fault), so a tier that cannot be built is not probed.
        """
        cleaned = super().clean()
        if not cleaned.get("probe_now") or any(name in self.errors for name in SPEC_FIELDS):
            return cleaned
        spec = self.spec()
        try:
            validate(spec)
        except TierConfigError:
            return cleaned
        result = check_quickly(spec)
        if not result.reachable:
            self.add_error(
                "probe_now",
                f"{describe_check(result)} Fix the settings above, or untick this box "
                "to save the tier without checking it.",
            )
        return cleaned

    def spec(self) -> TierSpec:
        """Return the tier the form describes, as the composer builds it."""
        values = {name: self.cleaned_data[name] for name in SPEC_FIELDS if name in self.fields}
        return TierSpec(**values, id=self.instance.pk)
